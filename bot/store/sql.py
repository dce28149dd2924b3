"""The SQL both back-ends share. Statements use ``?`` placeholders; each back-end supplies the
few primitives below (run a statement, convert a time) and its own schema and migrations."""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from bot.models import Article, DeskChannel, Follow, Passage, StoredArticle
from bot.store.base import (
    COPIED_TABLES,
    IndexRowTuple,
    LedgerRow,
    Store,
    StoreError,
    Upserted,
)
from bot.store.times import from_iso, to_day, utcnow

PRUNED_THROUGH_META = "changes_pruned_through"  # the change log's pruned horizon (a seq)

ARTICLE_COLUMNS = (
    "id, path, title, dek, author, editor, source, url, published, first_seen, captions"
)
LEDGER_COLUMNS = (
    "channel, digest_date, status, claimed_by, claimed_at, lease_until, attempts, last_error,"
    " covers_from, covers_to, ts, sent_at"
)
EXPORT_COLUMNS = {
    "articles": [
        "id",
        "realpath",
        "path",
        "size",
        "mtime_ns",
        "sha1",
        "title",
        "dek",
        "author",
        "editor",
        "source",
        "url",
        "published",
        "captions",
        "first_seen",
        "updated_at",
        "removed_at",
    ],
    "passages": ["id", "article_id", "position", "text"],
    "digest_ledger": [c.strip() for c in LEDGER_COLUMNS.split(",")],
    "follows": ["id", "user_id", "query", "created_at"],
    "follow_alerts": [
        "follow_id",
        "article_id",
        "user_id",
        "status",
        "claimed_at",
        "last_error",
    ],
    "desk_channels": ["channel", "query", "created_by", "created_at"],
}
TIME_COLUMNS = frozenset(
    {
        "published",
        "first_seen",
        "updated_at",
        "removed_at",
        "claimed_at",
        "lease_until",
        "covers_from",
        "covers_to",
        "sent_at",
        "created_at",
    }
)
LEDGER_SETTABLE = frozenset(
    {"status", "lease_until", "last_error", "covers_from", "covers_to", "ts", "sent_at"}
)
EVENT_PRUNE_SECONDS = 60.0


def _article(r: Sequence[Any]) -> StoredArticle:
    return StoredArticle(
        id=r[0],
        path=r[1],
        title=r[2],
        dek=r[3],
        author=r[4],
        editor=r[5],
        source=r[6],
        url=r[7],
        published=from_iso(r[8]),
        first_seen=from_iso(r[9]) or utcnow(),
        captions=tuple(json.loads(r[10] or "[]")),
    )


def _ledger_row(r: Sequence[Any]) -> LedgerRow:
    return LedgerRow(
        channel=r[0],
        digest_date=to_day(r[1]),
        status=r[2],
        claimed_by=r[3],
        claimed_at=from_iso(r[4]),
        lease_until=from_iso(r[5]),
        attempts=int(r[6]),
        last_error=r[7],
        covers_from=from_iso(r[8]),
        covers_to=from_iso(r[9]),
        ts=r[10],
        sent_at=from_iso(r[11]),
    )


class SqlStore(Store):
    """Everything but connections, transactions, schema and time encoding."""

    _events_pruned = 0.0

    # -- primitives each back-end provides -----------------------------------------------------
    @abstractmethod
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute; returns the row count."""

    @abstractmethod
    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def _stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows one by one, without loading them all (a rebuild reads millions)."""

    @abstractmethod
    def _t(self, value: datetime | None) -> Any:
        """A time as the back-end stores it."""

    @abstractmethod
    def _d(self, value: date) -> Any:
        """A date as the back-end stores it."""

    @abstractmethod
    def _epoch(self, expression: str) -> str:
        """SQL for a time column's Unix seconds, as an integer."""

    def _in(self, column: str, ids: Sequence[int] | Sequence[str]) -> tuple[str, list[Any]]:
        """``column IN (...)`` for these ids: (SQL, arguments). PostgreSQL overrides it with one
        array argument, so the statement text is the same whatever the count (and prepared)."""
        return f"{column} IN ({','.join('?' * len(ids))})", list(ids)

    def _in_chunks(self, column: str, ids: Sequence[int]) -> Iterator[tuple[str, list[Any]]]:
        """``_in`` for at most 500 ids at a time (older SQLite builds cap a statement at 999
        variables); PostgreSQL overrides it with one array argument for them all."""
        for start in range(0, len(ids), 500):
            yield self._in(column, ids[start : start + 500])

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def _log_change(self, article_id: int) -> int:
        """Log a change of the article's passages; returns its sequence number.

        Call it after writing the article's row in the same transaction: the row's lock, held
        to the commit, makes one article's changes commit in the order of their numbers (on
        PostgreSQL numbers are handed out at insert), which ``Upserted.change`` relies on."""
        row = self._one(
            "INSERT INTO passage_changes(article_id, changed_at) VALUES (?, ?) RETURNING seq",
            (article_id, self._t(utcnow())),
        )
        if row is None:
            raise StoreError("the change log did not return the number of a change it logged")
        return int(row[0])

    # -- files -------------------------------------------------------------------------------
    def file_states(
        self, keys: Sequence[str] | None = None
    ) -> dict[str, tuple[int, int, str, bool]]:
        sql = "SELECT realpath, size, mtime_ns, sha1, removed_at IS NOT NULL FROM articles"
        if keys is None:
            rows = self._rows(sql)
        elif not keys:
            return {}
        else:
            where, args = self._in("realpath", keys)
            rows = self._rows(f"{sql} WHERE {where}", args)
        return {r[0]: (r[1], r[2], r[3], bool(r[4])) for r in rows}

    def touch_file(self, realpath: str, path: str, size: int, mtime_ns: int) -> None:
        row = self._one("SELECT id, path FROM articles WHERE realpath = ?", (realpath,))
        self._run(
            "UPDATE articles SET size = ?, mtime_ns = ?, path = ? WHERE realpath = ?",
            (size, mtime_ns, path, realpath),
        )
        if row is not None and row[1] != path:  # reached by another path: shown everywhere
            self._log_change(int(row[0]))

    def upsert_article(
        self, realpath: str, article: Article, size: int, mtime_ns: int, sha1: str
    ) -> Upserted:
        now = self._t(utcnow())
        row = self._one("SELECT id FROM articles WHERE realpath = ?", (realpath,))
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
            self._t(article.published),
            json.dumps(list(article.captions), ensure_ascii=False) if article.captions else "[]",
            now,
        )
        if row is None:
            inserted = self._one(
                "INSERT INTO articles(path, size, mtime_ns, sha1, title, dek, author, editor,"
                " source, url, published, captions, updated_at, realpath, first_seen)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (*values, realpath, now),
            )
            article_id = int(inserted[0]) if inserted else 0
            is_new = True
        else:
            article_id = int(row[0])
            self._run(
                "UPDATE articles SET path=?, size=?, mtime_ns=?, sha1=?, title=?, dek=?, author=?,"
                " editor=?, source=?, url=?, published=?, captions=?, updated_at=?,"
                " removed_at=NULL WHERE id=?",
                (*values, article_id),
            )
            self._run("DELETE FROM passages WHERE article_id = ?", (article_id,))
            is_new = False
        self._many(
            "INSERT INTO passages(article_id, position, text) VALUES (?, ?, ?)",
            [(article_id, i, text) for i, text in enumerate(article.paragraphs)],
        )
        change = self._log_change(article_id)
        if is_new:
            self._run(
                "INSERT INTO follow_queue(article_id) VALUES (?) ON CONFLICT DO NOTHING",
                (article_id,),
            )
        return Upserted(article_id, is_new, change)

    def mark_removed(self, realpath: str) -> int | None:
        row = self._one(
            "SELECT id FROM articles WHERE realpath = ? AND removed_at IS NULL", (realpath,)
        )
        if row is None:
            return None
        article_id = int(row[0])
        self._run(
            "UPDATE articles SET removed_at = ? WHERE id = ?", (self._t(utcnow()), article_id)
        )
        self._run("DELETE FROM passages WHERE article_id = ?", (article_id,))
        self._log_change(article_id)
        return article_id

    # -- reading -----------------------------------------------------------------------------
    def article(self, article_id: int) -> StoredArticle | None:
        row = self._one(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return _article(row) if row else None

    def articles(
        self,
        *,
        seen_since: datetime | None = None,
        seen_until: datetime | None = None,
        include_removed: bool = False,
    ) -> list[StoredArticle]:
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE 1=1"
        args: list[Any] = []
        if not include_removed:
            sql += " AND removed_at IS NULL"
        if seen_since is not None:
            sql += " AND first_seen >= ?"
            args.append(self._t(seen_since))
        if seen_until is not None:
            sql += " AND first_seen < ?"
            args.append(self._t(seen_until))
        sql += " ORDER BY first_seen DESC, id DESC"
        return [_article(r) for r in self._rows(sql, args)]

    def article_by_path(self, path: str) -> StoredArticle | None:
        """The live article with this path (as shown to users) or this real path."""
        row = self._one(
            f"SELECT {ARTICLE_COLUMNS} FROM articles"
            " WHERE (path = ? OR realpath = ?) AND removed_at IS NULL ORDER BY id DESC LIMIT 1",
            (path, path),
        )
        return _article(row) if row else None

    def passages_of(self, article_id: int) -> list[Passage]:
        rows = self._rows(
            "SELECT id, article_id, position, text FROM passages WHERE article_id = ?"
            " ORDER BY position",
            (article_id,),
        )
        return [Passage(*r) for r in rows]

    def passages_by_id(self, ids: Sequence[int]) -> dict[int, tuple[Passage, StoredArticle]]:
        if not ids:
            return {}
        columns = ", ".join(f"a.{c.strip()}" for c in ARTICLE_COLUMNS.split(","))
        where, args = self._in("p.id", ids)
        rows = self._rows(
            f"SELECT p.id, p.article_id, p.position, p.text, {columns}"
            f" FROM passages p JOIN articles a ON a.id = p.article_id"
            f" WHERE {where} AND a.removed_at IS NULL",
            args,
        )
        return {r[0]: (Passage(r[0], r[1], r[2], r[3]), _article(r[4:])) for r in rows}

    def passage_counts(self, article_ids: Sequence[int]) -> dict[int, int]:
        ids = sorted(set(article_ids))
        counts = dict.fromkeys(ids, 0)
        for where, args in self._in_chunks("article_id", ids):
            rows = self._rows(
                f"SELECT article_id, count(*) FROM passages WHERE {where} GROUP BY article_id",
                args,
            )
            counts.update((int(r[0]), int(r[1])) for r in rows)
        return counts

    def counts(self) -> tuple[int, int]:
        a = self._one("SELECT count(*) FROM articles WHERE removed_at IS NULL")
        p = self._one("SELECT count(*) FROM passages")
        return int(a[0] if a else 0), int(p[0] if p else 0)

    def _index_heads(self) -> str:
        """An article's columns of its passages' index rows: (headline + dek + byline, byline,
        Unix seconds of published, else first seen), from ``articles a``."""
        byline = "coalesce(a.author, '') || ' ' || coalesce(a.source, a.editor, '')"
        when = self._epoch("coalesce(a.published, a.first_seen)")
        return (
            f"a.title || ' ' || coalesce(a.dek, '') || ' ' || {byline}, {byline},"
            f" coalesce({when}, 0)"
        )

    def _index_sql(self, text: str = "p.text") -> str:
        """Every live passage's index row (as ``index_rows``), unordered."""
        return (
            f"SELECT p.id, p.article_id, {text}, {self._index_heads()}"
            " FROM passages p JOIN articles a ON a.id = p.article_id WHERE a.removed_at IS NULL"
        )

    def index_rows(
        self, article_ids: Sequence[int] | None = None, *, texts: bool = True
    ) -> Iterator[IndexRowTuple]:
        if article_ids is None:
            sql = self._index_sql("p.text" if texts else "''")
            yield from self._stream(sql + " ORDER BY p.id")  # type: ignore[misc]
            return
        # The articles' columns once an article, not once a passage: a passage's row built
        # them anew (two joins of strings and a date's parse), the better part of reading a
        # million passages back after an ingest.
        text = "text" if texts else "''"
        passages = f"SELECT id, article_id, {text} FROM passages"
        for where, args in self._in_chunks("a.id", list(article_ids)):
            heads = {
                int(r[0]): tuple(r[1:])
                for r in self._rows(
                    f"SELECT a.id, {self._index_heads()} FROM articles a"
                    f" WHERE a.removed_at IS NULL AND {where}",
                    args,
                )
            }
            if not heads:
                continue
            live, live_args = self._in("article_id", sorted(heads))
            for pid, aid, body in self._rows(
                f"{passages} WHERE {live} ORDER BY article_id, position", live_args
            ):
                yield (pid, aid, body, *heads[aid])  # type: ignore[misc]

    # -- the change log ----------------------------------------------------------------------
    def change_head(self) -> int:
        row = self._one("SELECT max(seq) FROM passage_changes")
        return int(row[0]) if row and row[0] is not None else 0

    def changes_after(self, seq: int, limit: int = 10_000) -> list[tuple[int, int]]:
        rows = self._rows(
            "SELECT seq, article_id FROM passage_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    def changes_between(self, low: int, high: int) -> list[tuple[int, int]]:
        rows = self._rows(
            "SELECT seq, article_id FROM passage_changes WHERE seq > ? AND seq <= ? ORDER BY seq",
            (low, high),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    def prune_changes(self, before: datetime) -> int:
        # By seq, not time, so the horizon is exact: everything at or below it is gone. The rows
        # are days old, and no ingest transaction stays open that long, so none commits later
        # under the horizon.
        with self.transaction():
            row = self._one(
                "SELECT max(seq) FROM passage_changes WHERE changed_at < ?"
                " AND seq < (SELECT max(seq) FROM passage_changes)",
                (self._t(before),),
            )
            if not row or row[0] is None:
                return 0
            through = int(row[0])
            deleted = self._run("DELETE FROM passage_changes WHERE seq <= ?", (through,))
            if through > self.changes_pruned_through():
                self.set_meta(PRUNED_THROUGH_META, str(through))
        return deleted

    def changes_pruned_through(self) -> int:
        return int(self.get_meta(PRUNED_THROUGH_META) or 0)

    # -- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    # -- the digest ledger -------------------------------------------------------------------
    def ledger_get(self, channel: str, digest_date: date) -> LedgerRow | None:
        r = self._one(
            f"SELECT {LEDGER_COLUMNS} FROM digest_ledger WHERE channel = ? AND digest_date = ?",
            (channel, self._d(digest_date)),
        )
        return _ledger_row(r) if r else None

    def ledger_rows(self, channel: str | None = None) -> list[LedgerRow]:
        sql = f"SELECT {LEDGER_COLUMNS} FROM digest_ledger"
        args: tuple[str, ...] = ()
        if channel is not None:
            sql += " WHERE channel = ?"
            args = (channel,)
        sql += " ORDER BY digest_date, channel"
        return [_ledger_row(r) for r in self._rows(sql, args)]

    def ledger_last_delivered(self, channel: str) -> datetime | None:
        rows = self._rows(
            "SELECT covers_to FROM digest_ledger"
            " WHERE channel = ? AND status = 'sent' AND covers_to IS NOT NULL",
            (channel,),
        )
        ends = [from_iso(r[0]) for r in rows]
        return max((e for e in ends if e is not None), default=None)

    def ledger_put_claim(
        self,
        channel: str,
        digest_date: date,
        token: str,
        now: datetime,
        lease_until: datetime,
        attempts: int,
    ) -> None:
        self._run(
            "INSERT INTO digest_ledger(channel, digest_date, status, claimed_by, claimed_at,"
            " lease_until, attempts) VALUES (?, ?, 'claimed', ?, ?, ?, ?)"
            " ON CONFLICT(channel, digest_date) DO UPDATE SET status = 'claimed',"
            " claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at,"
            " lease_until = excluded.lease_until, attempts = excluded.attempts",
            (channel, self._d(digest_date), token, self._t(now), self._t(lease_until), attempts),
        )

    def ledger_update(
        self,
        channel: str,
        digest_date: date,
        values: dict[str, object],
        *,
        token: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        unknown = set(values) - LEDGER_SETTABLE
        if unknown:
            raise ValueError(f"not ledger columns: {sorted(unknown)}")
        names = sorted(values)
        args: list[Any] = [
            self._t(values[n]) if n in TIME_COLUMNS else values[n]  # type: ignore[arg-type]
            for n in names
        ]
        sql = (
            "UPDATE digest_ledger SET "
            + ", ".join(f"{n} = ?" for n in names)
            + " WHERE channel = ? AND digest_date = ?"
        )
        args += [channel, self._d(digest_date)]
        if token is not None:
            sql += " AND status = 'claimed' AND claimed_by = ? AND lease_until > ?"
            args += [token, self._t(now or utcnow())]
        return self._run(sql, args) == 1

    def ledger_release(self, channel: str, digest_date: date, now: datetime) -> bool:
        return (
            self._run(
                "UPDATE digest_ledger SET sent_at = NULL, lease_until = NULL"
                " WHERE channel = ? AND digest_date = ? AND status != 'sent'"
                " AND (status = 'failed' OR lease_until IS NULL OR lease_until <= ?)",
                (channel, self._d(digest_date), self._t(now)),
            )
            == 1
        )

    # -- follows, the alert ledger and desk channels (issue 12) ------------------------------
    def add_follow(self, user_id: str, query: str) -> Follow:
        now = utcnow()
        row = self._one(
            "INSERT INTO follows(user_id, query, created_at) VALUES (?, ?, ?) RETURNING id",
            (user_id, query, self._t(now)),
        )
        return Follow(int(row[0]) if row else 0, user_id, query, now)

    def follows(self, user_id: str | None = None) -> list[Follow]:
        sql = "SELECT id, user_id, query, created_at FROM follows"
        args: tuple[str, ...] = ()
        if user_id is not None:
            sql += " WHERE user_id = ?"
            args = (user_id,)
        rows = self._rows(sql + " ORDER BY id", args)
        return [Follow(int(r[0]), r[1], r[2], from_iso(r[3]) or utcnow()) for r in rows]

    def remove_follow(self, user_id: str, follow_id: int) -> bool:
        return (
            self._run("DELETE FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)) == 1
        )

    def take_follow_queue(self, limit: int) -> list[int]:
        # One statement: under PostgreSQL a concurrent taker skips the rows deleted here (its
        # DELETE re-checks them), and SQLite runs one writer at a time.
        with self.transaction():
            rows = self._rows(
                "DELETE FROM follow_queue WHERE article_id IN (SELECT article_id FROM follow_queue"
                " ORDER BY article_id LIMIT ?) RETURNING article_id",
                (limit,),
            )
        return sorted(int(r[0]) for r in rows)

    def claim_alert(self, follow_id: int, article_id: int, user_id: str) -> bool:
        rows = self._rows(
            "INSERT INTO follow_alerts(follow_id, article_id, user_id, status, claimed_at)"
            " VALUES (?, ?, ?, 'claimed', ?) ON CONFLICT DO NOTHING RETURNING follow_id",
            (follow_id, article_id, user_id, self._t(utcnow())),
        )
        return bool(rows)

    def mark_alerts(
        self, pairs: Sequence[tuple[int, int]], status: str, error: str | None = None
    ) -> None:
        self._many(
            "UPDATE follow_alerts SET status = ?, last_error = ? WHERE follow_id = ?"
            " AND article_id = ?",
            [(status, error, f, a) for f, a in pairs],
        )

    def alert_rows(self) -> list[tuple[int, int, str, str]]:
        rows = self._rows(
            "SELECT follow_id, article_id, user_id, status FROM follow_alerts"
            " ORDER BY follow_id, article_id"
        )
        return [(int(r[0]), int(r[1]), r[2], r[3]) for r in rows]

    def set_desk(self, channel: str, query: str, created_by: str | None) -> None:
        self._run(
            "INSERT INTO desk_channels(channel, query, created_by, created_at) VALUES (?,?,?,?)"
            " ON CONFLICT(channel) DO UPDATE SET query = excluded.query,"
            " created_by = excluded.created_by",
            (channel, query, created_by, self._t(utcnow())),
        )

    def remove_desk(self, channel: str) -> bool:
        return self._run("DELETE FROM desk_channels WHERE channel = ?", (channel,)) == 1

    def desks(self) -> list[DeskChannel]:
        rows = self._rows("SELECT channel, query FROM desk_channels ORDER BY channel")
        return [DeskChannel(r[0], r[1]) for r in rows]

    # -- Slack event dedupe ------------------------------------------------------------------
    def seen_before(self, keys: Sequence[str], ttl: float) -> bool:
        now = time.time()
        seen = False
        for key in keys:
            fresh = self._rows(
                "INSERT INTO slack_events(key, seen_at) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET seen_at = excluded.seen_at"
                " WHERE slack_events.seen_at < ? RETURNING key",
                (key, now, now - ttl),
            )
            if not fresh:
                # Stop at the first key seen: a delivery racing its own retry on another
                # worker must not record the keys after it, or each could find one of the
                # other's keys and neither would answer.
                seen = True
                break
        if now - self._events_pruned > EVENT_PRUNE_SECONDS:
            self._events_pruned = now
            self._run("DELETE FROM slack_events WHERE seen_at < ?", (now - ttl,))
        return seen

    # -- copying -----------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return all(
            self._one(f"SELECT 1 FROM {t} LIMIT 1") is None for t in ("articles", "digest_ledger")
        )

    def export_rows(self, table: str) -> tuple[list[str], Iterable[tuple[Any, ...]]]:
        if table not in COPIED_TABLES:
            raise ValueError(table)
        columns = EXPORT_COLUMNS[table]

        def portable() -> Iterator[tuple[Any, ...]]:
            kinds = [
                "t" if c in TIME_COLUMNS else "d" if c == "digest_date" else "" for c in columns
            ]
            for row in self._stream(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1"):
                yield tuple(
                    from_iso(v) if k == "t" else to_day(v) if k == "d" else v
                    for k, v in zip(kinds, row, strict=True)
                )

        return columns, portable()

    def import_rows(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        if table not in COPIED_TABLES or columns != EXPORT_COLUMNS[table]:
            raise ValueError(f"unexpected columns for {table}: {columns}")
        kinds = ["t" if c in TIME_COLUMNS else "d" if c == "digest_date" else "" for c in columns]
        sql = f"INSERT INTO {table}({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        n = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(
                tuple(
                    self._t(v) if k == "t" else self._d(v) if k == "d" and v else v
                    for k, v in zip(kinds, row, strict=True)
                )
            )
            if len(batch) >= 2000:
                self._many(sql, batch)
                n += len(batch)
                batch = []
        self._many(sql, batch)
        return n + len(batch)
