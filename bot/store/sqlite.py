"""The embedded SQLite store: one file in WAL mode, safe for several processes on one host.

Each thread needs its own :class:`SqliteStore` (a SQLite connection runs one transaction at a
time); ``bot.archive.Archive`` hands them out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.store import migrations
from bot.store.base import IndexSnapshot
from bot.store.sql import SqlStore
from bot.store.times import to_iso

_V1 = """
CREATE TABLE IF NOT EXISTS articles (
    id          INTEGER PRIMARY KEY,
    realpath    TEXT NOT NULL UNIQUE,  -- identity of the file
    path        TEXT NOT NULL,         -- the path as it was last ingested (shown to users)
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    sha1        TEXT NOT NULL,
    title       TEXT NOT NULL,
    dek         TEXT,
    author      TEXT,
    editor      TEXT,
    source      TEXT,
    url         TEXT,
    published   TEXT,                  -- ISO 8601, UTC
    captions    TEXT NOT NULL DEFAULT '[]',
    first_seen  TEXT NOT NULL,         -- ISO 8601, UTC, never changed once set
    updated_at  TEXT NOT NULL,
    removed_at  TEXT                   -- set when the file disappeared (its passages are gone then)
);
CREATE INDEX IF NOT EXISTS articles_first_seen ON articles(first_seen);
CREATE TABLE IF NOT EXISTS passages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id  INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    UNIQUE (article_id, position)
);
CREATE TABLE IF NOT EXISTS index_pending (
    article_id  INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS digest_ledger (
    channel      TEXT NOT NULL,
    digest_date  TEXT NOT NULL,        -- YYYY-MM-DD in the digest time zone
    status       TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
    claimed_by   TEXT,
    claimed_at   TEXT,
    lease_until  TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    covers_from  TEXT,
    covers_to    TEXT,
    ts           TEXT,                 -- Slack message ts once sent
    sent_at      TEXT,
    PRIMARY KEY (channel, digest_date)
)
"""

# Version 2: the change log every local search index follows (it replaces index_pending, whose
# rows become changes), and the Slack event ids already answered.
_V2 = """
CREATE TABLE passage_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id  INTEGER NOT NULL,
    changed_at  TEXT NOT NULL
);
INSERT INTO passage_changes(article_id, changed_at)
    SELECT article_id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM index_pending;
DROP TABLE index_pending;
CREATE TABLE slack_events (
    key         TEXT PRIMARY KEY,
    seen_at     REAL NOT NULL          -- unix time
);
CREATE INDEX slack_events_seen_at ON slack_events(seen_at)
"""

# Version 3 (issue 12): follows, the queue of articles first seen and not yet run against them,
# the alert ledger (one row per (follow, article), never deleted, not even with its follow) and
# the desk channels subscribed to the daily digest.
_V3 = """
CREATE TABLE follows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    query       TEXT NOT NULL,
    created_at  TEXT NOT NULL          -- articles first seen before are never alerted
);
CREATE INDEX follows_user ON follows(user_id, id);
CREATE TABLE follow_queue (
    article_id  INTEGER PRIMARY KEY
);
CREATE TABLE follow_alerts (
    follow_id   INTEGER NOT NULL,
    article_id  INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
    claimed_at  TEXT NOT NULL,
    last_error  TEXT,
    PRIMARY KEY (follow_id, article_id)
);
CREATE TABLE desk_channels (
    channel     TEXT PRIMARY KEY,
    query       TEXT NOT NULL DEFAULT '',
    created_by  TEXT,
    created_at  TEXT NOT NULL
)
"""

MIGRATIONS: list[migrations.Migration] = [
    (1, [s for s in _V1.split(";") if s.strip()]),
    (2, [s for s in _V2.split(";") if s.strip()]),
    (3, [s for s in _V3.split(";") if s.strip()]),
]
SCHEMA_VERSION = migrations.latest(MIGRATIONS)


def connect(db_path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open (and create or migrate) the database in WAL mode, safe for several processes."""
    path = Path(db_path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    _migrate(conn, str(path))
    return conn


def _migrate(conn: sqlite3.Connection, where: str) -> None:
    """Apply pending migrations inside BEGIN IMMEDIATE: the write lock serialises migrators."""
    if _version(conn) == SCHEMA_VERSION:
        return
    with transaction(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        migrations.apply(
            _version(conn),
            MIGRATIONS,
            where,
            conn.execute,
            lambda v: conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(v),),
            ),
        )


def _version(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet
        return 0
    return int(row[0]) if row else 0


@contextmanager
def transaction(
    conn: sqlite3.Connection, *, immediate: bool = True
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteStore(SqlStore):
    """Typed access to the tables over one connection (one per thread)."""

    kind = "sqlite"
    shared = False

    def __init__(self, conn: sqlite3.Connection, path: str | Path | None = None) -> None:
        self.conn = conn
        self.path = Path(path) if path is not None else None

    @classmethod
    def open_path(cls, db_path: str | Path) -> SqliteStore:
        return cls(connect(db_path), db_path)

    def close(self) -> None:
        self.conn.close()

    def describe(self) -> str:
        return str(self.path) if self.path else "SQLite"

    def transaction(self) -> Any:
        return transaction(self.conn)

    def ledger_lock(self, channel: str, digest_date: date) -> Any:
        return transaction(self.conn)  # BEGIN IMMEDIATE: one writer at a time

    def check(self) -> str:
        return str(self.conn.execute("PRAGMA quick_check").fetchone()[0])

    @contextmanager
    def index_snapshot(self) -> Iterator[IndexSnapshot]:
        """Nothing is ever unsettled here: SQLite serialises writers (BEGIN IMMEDIATE), so no
        transaction can commit a number above one still in flight, and every number at or
        below the head read here is committed or gone for good. A writer in flight holds only
        numbers above that head, which the cursor reads as new changes once they commit. The
        rows are read after the head: what commits in between is applied again (harmless)."""
        head = max(self.change_head(), self.changes_pruned_through())
        yield IndexSnapshot(head, (), self.index_rows())

    # -- primitives ----------------------------------------------------------------------------
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, args).rowcount

    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def _stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql, args)

    def _t(self, value: datetime | None) -> Any:
        return to_iso(value)

    def _d(self, value: date) -> Any:
        return value.isoformat()

    def _epoch(self, expression: str) -> str:
        return f"CAST(strftime('%s', {expression}) AS INTEGER)"

    def forget_kept(self, article_ids: Iterable[int] | None = None) -> None:
        """Nothing is kept: SQLite reads in-process."""

    def refresh_statistics(self) -> None:
        """Nothing: SQLite plans these lookups by their keys without statistics, and an
        ANALYZE of a million passages would cost seconds of every big ingest."""

    def after_import(self) -> None:
        """AUTOINCREMENT follows the highest id by itself."""
