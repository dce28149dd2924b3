"""Where a local search index stands in the store's change log (``passage_changes``).

Each worker's index follows the log by sequence number. Sequence numbers can commit out of order
(PostgreSQL hands them out at insert, transactions commit later), so "everything up to the
highest seq I applied" would skip a late commit. The cursor keeps instead:

- ``position``: every change up to it is applied (or was given up, see below);
- ``applied``: the changes above ``position`` already applied;
- ``gaps``: the missing numbers below the highest applied one, with when each was first noticed.
  After a full rebuild they may also lie below ``position``: the numbers the rebuild's read did
  not see below the log's head, which a transaction still in flight may yet commit
  (``Store.index_snapshot``, :meth:`Cursor.reset`).

A gap is re-read on every poll until its change shows up, or until ``GAP_TIMEOUT`` passes: then it
belonged to a rolled-back transaction (numbers are never reused) and the cursor moves past it.
Applying a change means re-indexing the article as the store holds it now (an ingest takes its
own articles' texts from what it wrote, while no later change of them is in the log), so applying
one twice is harmless: a cursor that lags (a crash before it was saved) only repeats work.

The log does not grow without bound: the active scheduler prunes the changes older than
``RETENTION`` every ``PRUNE_EVERY`` (the newest one always stays, so the head is kept), and the
store remembers the pruned horizon. A cursor below the horizon (a worker down for longer than
that, or an unreadable cursor file) may have lost changes it never applied, so its index is
rebuilt from the store instead (``Cursor.behind``, ``Archive.catch_up``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.store import Store

GAP_TIMEOUT = 120.0  # seconds: far longer than any ingest transaction
FETCH = 10_000
RETENTION = timedelta(days=7)  # far longer than any worker should lag; a longer one rebuilds
PRUNE_EVERY = timedelta(hours=6)


@dataclass
class Cursor:
    position: int = 0
    applied: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)

    @property
    def high(self) -> int:
        return max(self.applied, default=self.position)

    def pending(
        self, store: Store, limit: int = FETCH, now: float | None = None
    ) -> list[tuple[int, int]]:
        """Changes not applied yet: late commits into gaps, then new ones (at most ``limit``).
        Gaps past their timeout are given up first, also when nothing new has come (else an
        idle worker would read the log back to them every round)."""
        self.mark((), now)
        late = store.changes_between(min(self.gaps) - 1, self.high) if self.gaps else []
        new = store.changes_after(self.high, limit)
        # Every number between position and high is applied or a gap; below position only gaps
        # are still awaited.
        return [(seq, aid) for seq, aid in late if seq in self.gaps] + new

    def reset(self, position: int, unsettled: Iterable[int] = (), now: float | None = None) -> None:
        """After a rebuild: everything up to ``position`` is applied except ``unsettled``
        (numbers a transaction in flight may still commit: awaited as gaps), nothing above."""
        now = time.time() if now is None else now
        self.position = position
        self.applied.clear()
        self.gaps = {seq: now for seq in unsettled if seq < position}

    def behind(self, store: Store) -> bool:
        """True when the log was pruned past ``position``: changes not applied may be gone.

        Ask after reading the changes: a prune that deleted some of them before they were read
        committed its horizon with the deletion, so it shows here."""
        return self.position < store.changes_pruned_through()

    def mark(self, seqs: Iterable[int], now: float | None = None) -> None:
        """Record ``seqs`` as applied and move ``position`` as far as it safely goes."""
        now = time.time() if now is None else now
        done = set(seqs)
        for seq in done:
            self.gaps.pop(seq, None)  # a late commit arrived
        for seq in [s for s in self.gaps if s <= self.position]:  # a rebuild's unsettled ones
            if now - self.gaps[seq] >= GAP_TIMEOUT:
                del self.gaps[seq]  # rolled back: it never comes
        self.applied.update(s for s in done if s > self.position)
        for seq in range(self.position + 1, self.high):
            if seq not in self.applied:
                self.gaps.setdefault(seq, now)
        while True:
            nxt = self.position + 1
            if nxt in self.applied:
                self.applied.discard(nxt)
            elif nxt in self.gaps and now - self.gaps[nxt] >= GAP_TIMEOUT:
                pass  # a rolled-back transaction's number: it never comes
            else:
                break
            self.gaps.pop(nxt, None)
            self.position = nxt

    # -- persistence beside the index ----------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "position": self.position,
                "applied": sorted(self.applied),
                "gaps": {str(k): v for k, v in self.gaps.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        data = json.loads(text)
        return cls(
            int(data["position"]),
            {int(s) for s in data.get("applied", [])},
            {int(k): float(v) for k, v in data.get("gaps", {}).items()},
        )

    @classmethod
    def load(cls, path: Path) -> Cursor | None:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return cls()  # unreadable: replay the whole log (safe, only slower)

    def save(self, path: Path) -> None:
        """Written after the index commit, atomically (a crash leaves the old, lagging one)."""
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        os.replace(tmp, path)
