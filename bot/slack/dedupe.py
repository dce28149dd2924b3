"""Remembering which Slack deliveries were already handled, so a retry is not answered twice."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

log = logging.getLogger("newsbot.slack.dedupe")


class SeenCache:
    """A bounded, thread-safe set of keys that forgets each key ``ttl`` seconds after it was added.

    Slack retries an event for about an hour at most and usually within seconds; ten minutes of
    memory and a cap on size keep this small however busy the workspace is.
    """

    def __init__(
        self,
        ttl: float = 600.0,
        max_items: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen_before(self, *keys: str | None) -> bool:
        """True if any of ``keys`` was already recorded (and unexpired); records them all."""
        now = self._clock()
        wanted = [k for k in keys if k]
        with self._lock:
            self._expire(now)
            seen = any(k in self._items for k in wanted)
            for key in wanted:
                self._items[key] = now
                self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return seen

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    def _expire(self, now: float) -> None:
        while self._items:
            _, added = next(iter(self._items.items()))
            if now - added < self.ttl:
                break
            self._items.popitem(last=False)


class _SeenStore(Protocol):
    def seen_before(self, keys: Sequence[str], ttl: float) -> bool: ...


class SharedSeen:
    """Dedupe across workers: a retried delivery may reach another worker (HTTP behind a load
    balancer) or another Socket Mode connection. The local cache answers a repeat that came back
    here without a database round trip; the store's table decides for everything else."""

    def __init__(self, store: _SeenStore, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._store = store
        self._local = SeenCache(ttl=ttl)
        self._warned = -1e9

    def seen_before(self, *keys: str | None) -> bool:
        wanted = [k for k in keys if k]
        if self._local.seen_before(*wanted):
            return True
        if not wanted:
            return False
        try:
            return self._store.seen_before(wanted, self.ttl)
        except Exception as exc:  # the database is away: answer (a rare double beats silence)
            now = time.monotonic()
            if now - self._warned > 60:
                self._warned = now
                log.warning(
                    "event dedupe: the database did not answer (%s); deduping locally only",
                    type(exc).__name__,
                )
            return False
