"""The digest delivery ledger: one row per (channel, digest date), claimed before posting.

Exactly once rests on three rules:

1. A row is claimed inside ``BEGIN IMMEDIATE`` with a lease and a fresh token
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
the delivery code first looks for it in the channel by its marker (see ``bot.delivery``). So a
crash can neither post a second digest nor lose one.

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

from bot.store import from_iso, to_iso, transaction, utcnow

log = logging.getLogger("newsbot.ledger")

DEFAULT_LEASE = timedelta(minutes=10)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class LedgerRow:
    channel: str
    digest_date: date
    status: str  # 'claimed' | 'sent' | 'failed'
    claimed_by: str | None
    claimed_at: datetime | None
    lease_until: datetime | None
    attempts: int
    last_error: str | None
    covers_from: datetime | None
    covers_to: datetime | None
    ts: str | None
    sent_at: datetime | None

    @property
    def in_doubt(self) -> bool:
        """A post request went out but was never confirmed: Slack may hold the message."""
        return self.status != "sent" and self.sent_at is not None


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


def _row(r: sqlite3.Row) -> LedgerRow:
    return LedgerRow(
        channel=r["channel"],
        digest_date=date.fromisoformat(r["digest_date"]),
        status=r["status"],
        claimed_by=r["claimed_by"],
        claimed_at=from_iso(r["claimed_at"]),
        lease_until=from_iso(r["lease_until"]),
        attempts=int(r["attempts"]),
        last_error=r["last_error"],
        covers_from=from_iso(r["covers_from"]),
        covers_to=from_iso(r["covers_to"]),
        ts=r["ts"],
        sent_at=from_iso(r["sent_at"]),
    )


class Ledger:
    """Typed access to ``digest_ledger``.

    Use a connection owned by the calling thread (one SQLite connection must not run two
    transactions at once). ``clock`` is injectable so tests can move time.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, lease: timedelta = DEFAULT_LEASE, clock: Clock = utcnow
    ) -> None:
        self.conn = conn
        self.lease = lease
        self.clock = clock

    def _get(self, channel: str, digest_date: date) -> LedgerRow | None:
        r = self.conn.execute(
            "SELECT * FROM digest_ledger WHERE channel = ? AND digest_date = ?",
            (channel, digest_date.isoformat()),
        ).fetchone()
        return _row(r) if r else None

    def get(self, channel: str, digest_date: date) -> LedgerRow | None:
        return self._get(channel, digest_date)

    def rows(self, channel: str | None = None) -> list[LedgerRow]:
        sql = "SELECT * FROM digest_ledger"
        args: tuple[str, ...] = ()
        if channel is not None:
            sql += " WHERE channel = ?"
            args = (channel,)
        sql += " ORDER BY digest_date, channel"
        return [_row(r) for r in self.conn.execute(sql, args)]

    def last_delivered(self, channel: str) -> datetime | None:
        """End of the window covered by the channel's last delivered digest, or None."""
        rows = self.conn.execute(
            "SELECT covers_to FROM digest_ledger"
            " WHERE channel = ? AND status = 'sent' AND covers_to IS NOT NULL",
            (channel,),
        )
        ends = [from_iso(r[0]) for r in rows]
        return max((e for e in ends if e is not None), default=None)

    def claim(
        self, channel: str, digest_date: date, *, ignore_backoff: bool = False
    ) -> Claim | Refusal:
        """Claim (channel, digest_date) for delivery, or say why not."""
        token = new_token()
        with transaction(self.conn):
            now = self.clock()
            row = self._get(channel, digest_date)
            if row is not None:
                if row.status == "sent":
                    return Refusal(channel, digest_date, "sent", row)
                lease_running = row.lease_until is not None and row.lease_until > now
                if row.status == "claimed" and lease_running:
                    return Refusal(channel, digest_date, "busy", row)
                if row.status == "failed" and lease_running and not ignore_backoff:
                    return Refusal(channel, digest_date, "waiting", row)
            attempts = (row.attempts if row else 0) + 1
            self.conn.execute(
                "INSERT INTO digest_ledger(channel, digest_date, status, claimed_by, claimed_at,"
                " lease_until, attempts) VALUES (?, ?, 'claimed', ?, ?, ?, ?)"
                " ON CONFLICT(channel, digest_date) DO UPDATE SET status = 'claimed',"
                " claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at,"
                " lease_until = excluded.lease_until, attempts = excluded.attempts",
                (
                    channel,
                    digest_date.isoformat(),
                    token,
                    to_iso(now),
                    to_iso(now + self.lease),
                    attempts,
                ),
            )
        if row is not None and row.status == "claimed":
            log.warning(
                "digest %s %s: taking over from %s, whose lease ran out (crashed or stuck)",
                channel,
                digest_date,
                row.claimed_by,
            )
        return Claim(channel, digest_date, token, attempts, bool(row and row.in_doubt), row)

    def _update_mine(self, claim: Claim, sets: str, args: tuple[object, ...]) -> bool:
        """Update our row if the claim still holds (status claimed, our token, lease running)."""
        with transaction(self.conn):
            cur = self.conn.execute(
                f"UPDATE digest_ledger SET {sets} WHERE channel = ? AND digest_date = ?"
                " AND status = 'claimed' AND claimed_by = ? AND lease_until > ?",
                (
                    *args,
                    claim.channel,
                    claim.digest_date.isoformat(),
                    claim.token,
                    to_iso(self.clock()),
                ),
            )
            return cur.rowcount == 1

    def begin_post(self, claim: Claim, covers_from: datetime, covers_to: datetime) -> bool:
        """Record that the post is about to leave; False if the claim was lost (do not post)."""
        now = self.clock()
        return self._update_mine(
            claim,
            "sent_at = ?, covers_from = ?, covers_to = ?, lease_until = ?",
            (to_iso(now), to_iso(covers_from), to_iso(covers_to), to_iso(now + self.lease)),
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
        with transaction(self.conn):
            row = self._get(claim.channel, claim.digest_date)
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
            self.conn.execute(
                "UPDATE digest_ledger SET status = 'sent', ts = ?, sent_at = ?, lease_until = NULL,"
                " last_error = NULL, covers_from = coalesce(?, covers_from),"
                " covers_to = coalesce(?, covers_to) WHERE channel = ? AND digest_date = ?",
                (
                    ts,
                    to_iso(now),
                    to_iso(covers_from),
                    to_iso(covers_to),
                    claim.channel,
                    claim.digest_date.isoformat(),
                ),
            )
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
        sent_at_sql = "sent_at" if in_doubt else "NULL"
        return self._update_mine(
            claim,
            f"status = 'failed', last_error = ?, lease_until = ?, sent_at = {sent_at_sql}",
            (error[:500], to_iso(self.clock() + delay)),
        )

    def release_in_doubt(self, channel: str, digest_date: date) -> bool:
        """An operator checked the channel and the in-doubt digest is not there: allow a re-post."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE digest_ledger SET sent_at = NULL, lease_until = NULL"
                " WHERE channel = ? AND digest_date = ? AND status != 'sent'"
                " AND (status = 'failed' OR lease_until IS NULL OR lease_until <= ?)",
                (channel, digest_date.isoformat(), to_iso(self.clock())),
            )
            return cur.rowcount == 1


def retry_delay(attempts: int) -> timedelta:
    """Backoff before the next attempt: 1, 2, 4, 8, 16, then every 30 minutes."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 30))


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a time-zone aware one")
    return value.astimezone(UTC)
