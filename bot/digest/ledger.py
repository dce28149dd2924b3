"""The digest delivery ledger: one row per (channel, digest date), claimed before posting.

Exactly once rests on three rules:

1. A row is claimed under the store's ledger lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
   advisory transaction lock on the row's key) with a lease and a fresh token
   (``claimed_by = host:pid:uuid``). A ``sent`` row is never claimed again; a ``claimed`` row whose
   lease is still running belongs to someone else (another thread or process): hands off.
2. Just before the post leaves, :meth:`Ledger.begin_post` records ``sent_at`` (the moment the
   request went out) and the coverage window, but only if our claim still holds: a process whose
   lease ran out and was taken over can no longer post (fencing).
3. The row becomes ``sent`` with the message ``ts`` once Slack answers.

The crash window between "Slack accepted the post" and :meth:`Ledger.mark_sent` cannot be closed
by the database alone. The ledger makes it visible instead: a row that is not ``sent`` but has
``sent_at`` set is *in doubt* (a crash or a timeout after the request went out). A crash before
that point (while building the digest, or before the request left) leaves ``sent_at`` empty, and
the digest is simply posted by the next claimer. An in-doubt digest is never re-posted blindly:
the delivery code first looks for it in the channel by its marker (see
``bot.digest.delivery``). So a crash can neither post a second digest nor lose one.

``sent_at`` therefore means "when the post request went out"; with ``status = 'sent'`` it is the
time Slack confirmed it. For ``failed`` rows ``lease_until`` is reused as "retry not before".
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.store import SqliteStore, Store
from bot.store.base import LedgerRow
from bot.store.times import utcnow

log = logging.getLogger("newsbot.ledger")

DEFAULT_LEASE = timedelta(minutes=10)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Claim:
    """A granted claim. ``in_doubt`` says an earlier attempt may already have posted."""

    channel: str
    digest_date: date
    token: str
    attempts: int
    in_doubt: bool
    previous: LedgerRow | None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a claim was refused: 'sent', 'busy' (live lease elsewhere) or 'waiting' (backoff)."""

    channel: str
    digest_date: date
    reason: str
    row: LedgerRow


def new_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Ledger:
    """The ledger's rules over the store's ``digest_ledger`` table.

    ``store`` is a :class:`bot.store.Store` used by the calling thread only (a SQLite connection
    is accepted too, for older callers). ``clock`` is injectable so tests can move time.
    """

    def __init__(
        self,
        store: Store | sqlite3.Connection,
        *,
        lease: timedelta = DEFAULT_LEASE,
        clock: Clock = utcnow,
    ) -> None:
        self.store = SqliteStore(store) if isinstance(store, sqlite3.Connection) else store
        self.lease = lease
        self.clock = clock

    def get(self, channel: str, digest_date: date) -> LedgerRow | None:
        return self.store.ledger_get(channel, digest_date)

    def rows(self, channel: str | None = None) -> list[LedgerRow]:
        return self.store.ledger_rows(channel)

    def last_delivered(self, channel: str) -> datetime | None:
        """End of the window covered by the channel's last delivered digest, or None."""
        return self.store.ledger_last_delivered(channel)

    def claim(
        self, channel: str, digest_date: date, *, ignore_backoff: bool = False
    ) -> Claim | Refusal:
        """Claim (channel, digest_date) for delivery, or say why not."""
        token = new_token()
        with self.store.ledger_lock(channel, digest_date):
            now = self.clock()
            row = self.store.ledger_get(channel, digest_date)
            if row is not None:
                if row.status == "sent":
                    return Refusal(channel, digest_date, "sent", row)
                lease_running = row.lease_until is not None and row.lease_until > now
                if row.status == "claimed" and lease_running:
                    return Refusal(channel, digest_date, "busy", row)
                if row.status == "failed" and lease_running and not ignore_backoff:
                    return Refusal(channel, digest_date, "waiting", row)
            attempts = (row.attempts if row else 0) + 1
            self.store.ledger_put_claim(
                channel, digest_date, token, now, now + self.lease, attempts
            )
        if row is not None and row.status == "claimed":
            log.warning(
                "digest %s %s: taking over from %s, whose lease ran out (crashed or stuck)",
                channel,
                digest_date,
                row.claimed_by,
            )
        return Claim(channel, digest_date, token, attempts, bool(row and row.in_doubt), row)

    def _update_mine(self, claim: Claim, values: dict[str, object]) -> bool:
        """Update our row if the claim still holds (status claimed, our token, lease running)."""
        return self.store.ledger_update(
            claim.channel, claim.digest_date, values, token=claim.token, now=self.clock()
        )

    def begin_post(self, claim: Claim, covers_from: datetime, covers_to: datetime) -> bool:
        """Record that the post is about to leave; False if the claim was lost (do not post)."""
        now = self.clock()
        return self._update_mine(
            claim,
            {
                "sent_at": now,
                "covers_from": covers_from,
                "covers_to": covers_to,
                "lease_until": now + self.lease,
            },
        )

    def mark_sent(
        self,
        claim: Claim,
        ts: str | None,
        *,
        covers_from: datetime | None = None,
        covers_to: datetime | None = None,
    ) -> bool:
        """Slack accepted the post (or there was nothing to post): the digest is delivered.

        Applied even if our lease ran out meanwhile: the message exists, so the row must say so
        (and a taker-over, fenced by ``begin_post``, will not post again). Returns False only if
        the row was already sent, which means a duplicate and is logged as an error.
        """
        now = self.clock()
        with self.store.ledger_lock(claim.channel, claim.digest_date):
            row = self.store.ledger_get(claim.channel, claim.digest_date)
            if row is not None and row.status == "sent":
                log.error(
                    "digest %s %s: marked sent twice (ts %s, then %s): a duplicate digest was"
                    " posted; the post outlived its lease",
                    claim.channel,
                    claim.digest_date,
                    row.ts,
                    ts,
                )
                return False
            values: dict[str, object] = {
                "status": "sent",
                "ts": ts,
                "sent_at": now,
                "lease_until": None,
                "last_error": None,
            }
            if covers_from is not None:
                values["covers_from"] = covers_from
            if covers_to is not None:
                values["covers_to"] = covers_to
            self.store.ledger_update(claim.channel, claim.digest_date, values)
        return True

    def mark_failed(
        self,
        claim: Claim,
        error: str,
        *,
        retry_after: timedelta | None = None,
        in_doubt: bool = False,
    ) -> bool:
        """The attempt failed: keep the row retryable after ``retry_after`` (default backoff).

        ``in_doubt`` keeps ``sent_at`` (Slack may have the message); otherwise it is cleared, as
        nothing reached the channel.
        """
        delay = retry_after if retry_after is not None else retry_delay(claim.attempts)
        values: dict[str, object] = {
            "status": "failed",
            "last_error": error[:500],
            "lease_until": self.clock() + delay,
        }
        if not in_doubt:
            values["sent_at"] = None
        return self._update_mine(claim, values)

    def release_in_doubt(self, channel: str, digest_date: date) -> bool:
        """An operator checked the channel and the in-doubt digest is not there: allow a re-post."""
        return self.store.ledger_release(channel, digest_date, self.clock())


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next attempt: 1, 2, 4, 8, 16, then every 30 minutes."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 30))


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a time-zone aware one")
    return value.astimezone(UTC)
