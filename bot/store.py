"""The embedded SQLite store: articles, passages, first-seen times and the digest ledger.

Article files are the source of truth for text; the ``passages`` table and the search index can be
rebuilt from them. ``articles.first_seen`` and ``digest_ledger`` cannot, so nothing here drops them:
a removed file only gets ``removed_at`` set and loses its passages.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.models import Article, DeskChannel, Follow, Passage, StoredArticle

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
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
-- Articles whose passages changed in SQLite but may not be in the search index yet. Written in
-- the same transaction as the passages, cleared after the index commit: a crash in between is
-- repaired at the next open.
CREATE TABLE IF NOT EXISTS index_pending (
    article_id  INTEGER PRIMARY KEY
);
-- The digest delivery ledger: one row per (channel, digest date), claimed before posting.
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
);
-- Follows (issue 12): a user's saved query, run over each ingest batch's new passages.
CREATE TABLE IF NOT EXISTS follows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    query       TEXT NOT NULL,
    created_at  TEXT NOT NULL          -- ISO 8601 UTC: older articles are never alerted
);
CREATE INDEX IF NOT EXISTS follows_user ON follows(user_id, id);
-- Articles first seen and not yet run against the follows. Written in the ingest transaction,
-- taken (deleted) by the process that sends the alerts: `newsbot ingest` in another process
-- leaves them here for `newsbot serve`.
CREATE TABLE IF NOT EXISTS follow_queue (
    article_id  INTEGER PRIMARY KEY
);
-- The alert ledger: one row per (follow, article), claimed before the DM is sent, never deleted
-- (not even with the follow), so a pair is alerted at most once.
CREATE TABLE IF NOT EXISTS follow_alerts (
    follow_id   INTEGER NOT NULL,
    article_id  INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('claimed', 'sent', 'failed')),
    claimed_at  TEXT NOT NULL,
    last_error  TEXT,
    PRIMARY KEY (follow_id, article_id)
);
-- Desk digests: channels subscribed with `/news digest here [QUERY]` (beside DIGEST_CHANNEL).
CREATE TABLE IF NOT EXISTS desk_channels (
    channel     TEXT PRIMARY KEY,
    query       TEXT NOT NULL DEFAULT '',
    created_by  TEXT,
    created_at  TEXT NOT NULL
);
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


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
    with transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    return conn


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


def _article_from_row(row: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        id=row["id"],
        path=row["path"],
        title=row["title"],
        dek=row["dek"],
        author=row["author"],
        editor=row["editor"],
        source=row["source"],
        url=row["url"],
        published=from_iso(row["published"]),
        first_seen=from_iso(row["first_seen"]) or utcnow(),
        captions=tuple(json.loads(row["captions"] or "[]")),
    )


class Store:
    """Typed access to the tables. Holds one connection; not shared across threads for writes."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, db_path: str | Path) -> Store:
        return cls(connect(db_path))

    def close(self) -> None:
        self.conn.close()

    # -- files -------------------------------------------------------------------------------
    def file_states(self) -> dict[str, tuple[int, int, str, bool]]:
        """realpath -> (size, mtime_ns, sha1, removed) for every file ever ingested."""
        rows = self.conn.execute(
            "SELECT realpath, size, mtime_ns, sha1, removed_at IS NOT NULL AS removed FROM articles"
        )
        return {r[0]: (r[1], r[2], r[3], bool(r[4])) for r in rows}

    def touch_file(self, realpath: str, path: str, size: int, mtime_ns: int) -> None:
        """The file's stat changed but not its bytes: remember the new stat only."""
        self.conn.execute(
            "UPDATE articles SET size = ?, mtime_ns = ?, path = ? WHERE realpath = ?",
            (size, mtime_ns, path, realpath),
        )

    def upsert_article(
        self, realpath: str, article: Article, size: int, mtime_ns: int, sha1: str
    ) -> tuple[int, bool]:
        """Insert or replace an article and its passages. Returns (article id, was it new).

        Call inside a transaction; marks the article for (re)indexing in the same transaction.
        """
        now = to_iso(utcnow())
        row = self.conn.execute(
            "SELECT id FROM articles WHERE realpath = ?", (realpath,)
        ).fetchone()
        values = (
            article.path,
            size,
            mtime_ns,
            sha1,
            article.title,
            article.dek,
            article.author,
            article.editor,
            article.source,
            article.url,
            to_iso(article.published),
            json.dumps(list(article.captions), ensure_ascii=False),
            now,
        )
        if row is None:
            cur = self.conn.execute(
                "INSERT INTO articles(path, size, mtime_ns, sha1, title, dek, author, editor,"
                " source, url, published, captions, updated_at, realpath, first_seen)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*values, realpath, now),
            )
            article_id = int(cur.lastrowid or 0)
            is_new = True
        else:
            article_id = int(row[0])
            self.conn.execute(
                "UPDATE articles SET path=?, size=?, mtime_ns=?, sha1=?, title=?, dek=?, author=?,"
                " editor=?, source=?, url=?, published=?, captions=?, updated_at=?,"
                " removed_at=NULL WHERE id=?",
                (*values, article_id),
            )
            self.conn.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))
            is_new = False
        self.conn.executemany(
            "INSERT INTO passages(article_id, position, text) VALUES (?, ?, ?)",
            [(article_id, i, text) for i, text in enumerate(article.paragraphs)],
        )
        self.conn.execute(
            "INSERT OR IGNORE INTO index_pending(article_id) VALUES (?)", (article_id,)
        )
        if is_new:
            self.conn.execute(
                "INSERT OR IGNORE INTO follow_queue(article_id) VALUES (?)", (article_id,)
            )
        return article_id, is_new

    def mark_removed(self, realpath: str) -> int | None:
        """The file is gone: drop its passages (no longer searchable), keep the article row."""
        row = self.conn.execute(
            "SELECT id FROM articles WHERE realpath = ? AND removed_at IS NULL", (realpath,)
        ).fetchone()
        if row is None:
            return None
        self.conn.execute(
            "UPDATE articles SET removed_at = ? WHERE id = ?", (to_iso(utcnow()), row[0])
        )
        self.conn.execute("DELETE FROM passages WHERE article_id = ?", (row[0],))
        self.conn.execute("INSERT OR IGNORE INTO index_pending(article_id) VALUES (?)", (row[0],))
        return int(row[0])

    # -- reading -----------------------------------------------------------------------------
    def article(self, article_id: int) -> StoredArticle | None:
        row = self.conn.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article_from_row(row) if row else None

    def articles(
        self,
        *,
        seen_since: datetime | None = None,
        seen_until: datetime | None = None,
        include_removed: bool = False,
    ) -> list[StoredArticle]:
        """Articles, newest first-seen first, optionally first seen within [since, until)."""
        sql = "SELECT * FROM articles WHERE 1=1"
        args: list[str] = []
        if not include_removed:
            sql += " AND removed_at IS NULL"
        if seen_since is not None:
            sql += " AND first_seen >= ?"
            args.append(to_iso(seen_since) or "")
        if seen_until is not None:
            sql += " AND first_seen < ?"
            args.append(to_iso(seen_until) or "")
        sql += " ORDER BY first_seen DESC, id DESC"
        return [_article_from_row(r) for r in self.conn.execute(sql, args)]

    def article_by_path(self, path: str) -> StoredArticle | None:
        """The live article with this path (as shown to users) or this real path."""
        row = self.conn.execute(
            "SELECT * FROM articles WHERE (path = ? OR realpath = ?) AND removed_at IS NULL"
            " ORDER BY id DESC LIMIT 1",
            (path, path),
        ).fetchone()
        return _article_from_row(row) if row else None

    def passages_of(self, article_id: int) -> list[Passage]:
        rows = self.conn.execute(
            "SELECT id, article_id, position, text FROM passages WHERE article_id = ?"
            " ORDER BY position",
            (article_id,),
        )
        return [Passage(*r) for r in rows]

    def passages_by_id(self, ids: Sequence[int]) -> dict[int, tuple[Passage, StoredArticle]]:
        """Passages with their articles, for the ids that still exist (others are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT p.id AS pid, p.article_id AS aid, p.position, p.text AS ptext, a.*"
            f" FROM passages p JOIN articles a ON a.id = p.article_id"
            f" WHERE p.id IN ({marks}) AND a.removed_at IS NULL",
            list(ids),
        )
        out: dict[int, tuple[Passage, StoredArticle]] = {}
        for r in rows:
            out[r["pid"]] = (
                Passage(r["pid"], r["aid"], r["position"], r["ptext"]),
                _article_from_row(r),
            )
        return out

    def counts(self) -> tuple[int, int]:
        """(live articles, passages)."""
        a = self.conn.execute("SELECT count(*) FROM articles WHERE removed_at IS NULL").fetchone()
        p = self.conn.execute("SELECT count(*) FROM passages").fetchone()
        return int(a[0]), int(p[0])

    # -- index bookkeeping -------------------------------------------------------------------
    def pending_index(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT article_id FROM index_pending")]

    def clear_pending(self, article_ids: Iterable[int]) -> None:
        self.conn.executemany(
            "DELETE FROM index_pending WHERE article_id = ?", [(i,) for i in article_ids]
        )

    def index_rows(
        self, article_ids: Sequence[int] | None = None
    ) -> Iterator[tuple[int, int, str, str, str, int]]:
        """(passage id, article id, passage text, headline + dek + byline, byline, Unix seconds of
        the article's date: published, else first seen) to (re)build the search index from."""
        byline = "coalesce(a.author, '') || ' ' || coalesce(a.source, a.editor, '')"
        sql = (
            f"SELECT p.id, p.article_id, p.text, a.title || ' ' || coalesce(a.dek, '') || ' ' ||"
            f" {byline}, {byline},"
            " coalesce(CAST(strftime('%s', coalesce(a.published, a.first_seen)) AS INTEGER), 0)"
            " FROM passages p JOIN articles a ON a.id = p.article_id WHERE a.removed_at IS NULL"
        )
        if article_ids is None:
            yield from self.conn.execute(sql + " ORDER BY p.id")
            return
        ids = list(article_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self.conn.execute(sql + f" AND p.article_id IN ({marks})", chunk)

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- follows, the alert ledger and desk channels (issue 12) ------------------------------
    def add_follow(self, user_id: str, query: str) -> Follow:
        now = utcnow()
        cur = self.conn.execute(
            "INSERT INTO follows(user_id, query, created_at) VALUES (?, ?, ?)",
            (user_id, query, to_iso(now)),
        )
        return Follow(int(cur.lastrowid or 0), user_id, query, now)

    def follows(self, user_id: str | None = None) -> list[Follow]:
        """A user's follows (or everyone's), oldest first."""
        sql = "SELECT id, user_id, query, created_at FROM follows"
        args: tuple[str, ...] = ()
        if user_id is not None:
            sql += " WHERE user_id = ?"
            args = (user_id,)
        rows = self.conn.execute(sql + " ORDER BY id", args)
        return [Follow(r[0], r[1], r[2], from_iso(r[3]) or utcnow()) for r in rows]

    def remove_follow(self, user_id: str, follow_id: int) -> bool:
        cur = self.conn.execute(
            "DELETE FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)
        )
        return cur.rowcount == 1

    def take_follow_queue(self, limit: int) -> list[int]:
        """Take (remove) up to ``limit`` queued new articles, oldest first: only one process
        runs the follows over a given article."""
        with transaction(self.conn):
            ids = [
                int(r[0])
                for r in self.conn.execute(
                    "SELECT article_id FROM follow_queue ORDER BY article_id LIMIT ?", (limit,)
                )
            ]
            self.conn.executemany(
                "DELETE FROM follow_queue WHERE article_id = ?", [(i,) for i in ids]
            )
        return ids

    def claim_alert(self, follow_id: int, article_id: int, user_id: str) -> bool:
        """Claim (follow, article) for an alert; False when it was claimed before (anywhere)."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO follow_alerts(follow_id, article_id, user_id, status,"
            " claimed_at) VALUES (?, ?, ?, 'claimed', ?)",
            (follow_id, article_id, user_id, to_iso(utcnow())),
        )
        return cur.rowcount == 1

    def mark_alerts(
        self, pairs: Sequence[tuple[int, int]], status: str, error: str | None = None
    ) -> None:
        """Record how the DM for these (follow, article) claims went ('sent' or 'failed')."""
        self.conn.executemany(
            "UPDATE follow_alerts SET status = ?, last_error = ? WHERE follow_id = ?"
            " AND article_id = ?",
            [(status, error, f, a) for f, a in pairs],
        )

    def alert_rows(self) -> list[tuple[int, int, str, str]]:
        """(follow id, article id, user id, status) of every claimed alert."""
        rows = self.conn.execute(
            "SELECT follow_id, article_id, user_id, status FROM follow_alerts"
            " ORDER BY follow_id, article_id"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def set_desk(self, channel: str, query: str, created_by: str | None) -> None:
        self.conn.execute(
            "INSERT INTO desk_channels(channel, query, created_by, created_at) VALUES (?,?,?,?)"
            " ON CONFLICT(channel) DO UPDATE SET query = excluded.query,"
            " created_by = excluded.created_by",
            (channel, query, created_by, to_iso(utcnow())),
        )

    def remove_desk(self, channel: str) -> bool:
        cur = self.conn.execute("DELETE FROM desk_channels WHERE channel = ?", (channel,))
        return cur.rowcount == 1

    def desks(self) -> list[DeskChannel]:
        rows = self.conn.execute("SELECT channel, query FROM desk_channels ORDER BY channel")
        return [DeskChannel(r[0], r[1]) for r in rows]
