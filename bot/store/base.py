"""The store interface: everything the archive, the ledger and the adapters keep in a database.

Two implementations: :class:`bot.store.sqlite.SqliteStore` (the embedded default, one file) and
:class:`bot.store.postgres.PostgresStore` (several workers on several hosts). Nothing outside
``bot.store`` touches a connection or writes SQL.

Article files are the source of truth for text; passages and the search index can be rebuilt from
them. ``articles.first_seen`` and the digest ledger cannot, so nothing here drops them: a removed
file only gets ``removed_at`` set and loses its passages. Every change to an article's passages
appends a row to the change log (``passage_changes``) in the same transaction, which each
worker's local search index follows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from bot.models import Article, DeskChannel, Follow, Passage, StoredArticle


def is_url(target: object) -> bool:
    """A PostgreSQL URL (anything else is a SQLite file path)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class StoreError(Exception):
    """A database that cannot be used, with a message fit for one line (no password in it)."""


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


IndexRowTuple = tuple[int, int, str, str, str, int]


class Upserted(NamedTuple):
    """What :meth:`Store.upsert_article` wrote: the article's id, whether it was new, and the
    sequence number of the change it logged. The article is as written while no later change
    of it is in the log (its changes commit in the order of their numbers: each writer logs
    after writing the article's row, whose lock it holds to the commit)."""

    article_id: int
    is_new: bool
    change: int


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """What a full index rebuild reads (:meth:`Store.index_snapshot`), as of one moment.

    ``rows`` hold every change up to ``head`` except the numbers in ``unsettled``: missing from
    the log at that moment though below ``head``, each either rolled back (it never comes) or
    written by a transaction still in flight (it commits later and must still be applied)."""

    head: int
    unsettled: tuple[int, ...]
    rows: Iterator[IndexRowTuple]


# Tables copied by ``newsbot migrate-store``, in an order that respects foreign keys.
COPIED_TABLES = (
    "articles",
    "passages",
    "digest_ledger",
    "follows",
    "follow_alerts",
    "desk_channels",
)


class Store(ABC):
    """One database. ``kind`` is 'sqlite' or 'postgresql'; ``shared`` says whether one object may
    be used from every thread (PostgreSQL, over a pool) or each thread needs its own (SQLite)."""

    kind: str
    shared: bool = False

    @classmethod
    def open(cls, target: str | Path) -> Store:
        """A file path (SQLite) or a ``postgresql://`` URL; migrates the schema first."""
        from bot.store import open_store

        return open_store(target)

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the data lives, safe to print (a URL loses its password)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """One write transaction (rolled back on any exception). Not re-entrant."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def check(self) -> str:
        """An integrity / liveness check: 'ok' or what is wrong."""

    # -- files -------------------------------------------------------------------------------
    @abstractmethod
    def file_states(
        self, keys: Sequence[str] | None = None
    ) -> dict[str, tuple[int, int, str, bool]]:
        """realpath -> (size, mtime_ns, sha1, removed) for every file ever ingested, or only for
        ``keys`` (a feed's entries: one poll need not read the whole archive)."""

    @abstractmethod
    def touch_file(self, realpath: str, path: str, size: int, mtime_ns: int) -> None:
        """The file's stat changed but not its bytes: remember the new stat only."""

    @abstractmethod
    def upsert_article(
        self, realpath: str, article: Article, size: int, mtime_ns: int, sha1: str
    ) -> Upserted:
        """Insert or replace an article and its passages. Call inside
        :meth:`transaction`; appends to the change log in the same transaction, and queues a
        new article for the follows (:meth:`take_follow_queue`)."""

    @abstractmethod
    def mark_removed(self, realpath: str) -> int | None:
        """The file is gone: drop its passages (no longer searchable), keep the article row."""

    # -- reading -----------------------------------------------------------------------------
    @abstractmethod
    def article(self, article_id: int) -> StoredArticle | None: ...

    @abstractmethod
    def articles(
        self,
        *,
        seen_since: datetime | None = None,
        seen_until: datetime | None = None,
        include_removed: bool = False,
    ) -> list[StoredArticle]:
        """Articles, newest first-seen first, optionally first seen within [since, until)."""

    @abstractmethod
    def article_by_path(self, path: str) -> StoredArticle | None:
        """The live article with this path (as shown to users) or this real path."""

    @abstractmethod
    def passages_of(self, article_id: int) -> list[Passage]: ...

    @abstractmethod
    def passages_by_id(self, ids: Sequence[int]) -> dict[int, tuple[Passage, StoredArticle]]:
        """Passages with their articles, for the ids that still exist (others are left out)."""

    @abstractmethod
    def passage_counts(self, article_ids: Sequence[int]) -> dict[int, int]:
        """article id -> its number of passages, for each of ``article_ids`` (0 when it has none
        or does not exist): one query, for "paragraph 3 of 9" under each search hit."""

    @abstractmethod
    def counts(self) -> tuple[int, int]:
        """(live articles, passages)."""

    @abstractmethod
    def index_rows(
        self, article_ids: Sequence[int] | None = None, *, texts: bool = True
    ) -> Iterator[IndexRowTuple]:
        """(passage id, article id, passage text, headline + dek + byline, byline, Unix seconds of
        the article's date: published, else first seen) to (re)build the search index from. Given
        ids in ascending order, the rows come in article order, each article's passages in
        position order. ``texts=False``: every passage text is "" (the caller holds them: the
        passages are not read, only their ids)."""

    @abstractmethod
    def index_snapshot(self) -> AbstractContextManager[IndexSnapshot]:
        """Every passage (as :meth:`index_rows`) with the change log's position they stand at,
        read as of one moment: the start of a full index rebuild. Its cursor starts at ``head``
        and still waits for the ``unsettled`` numbers below it (see :class:`IndexSnapshot`)."""

    # -- the change log ----------------------------------------------------------------------
    @abstractmethod
    def change_head(self) -> int:
        """The highest change sequence number written so far (0 when none)."""

    @abstractmethod
    def changes_after(self, seq: int, limit: int = 10_000) -> list[tuple[int, int]]:
        """(seq, article id) with seq > ``seq``, in order, at most ``limit``."""

    @abstractmethod
    def changes_between(self, low: int, high: int) -> list[tuple[int, int]]:
        """(seq, article id) with low < seq <= high: re-read to find late commits in gaps."""

    @abstractmethod
    def prune_changes(self, before: datetime) -> int:
        """Delete the changes logged before ``before``, never the newest one (so the head is
        kept), and raise the pruned horizon to the highest seq deleted. Returns the rows deleted.
        """

    @abstractmethod
    def changes_pruned_through(self) -> int:
        """The pruned horizon: every change with seq <= it is gone from the log (0: none)."""

    # -- meta --------------------------------------------------------------------------------
    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    # -- the digest ledger (policy in bot.digest.ledger) ----------------------------------------
    @abstractmethod
    def ledger_lock(self, channel: str, digest_date: date) -> AbstractContextManager[Any]:
        """A transaction in which no other claim of (channel, date) can interleave."""

    @abstractmethod
    def ledger_get(self, channel: str, digest_date: date) -> LedgerRow | None: ...

    @abstractmethod
    def ledger_rows(self, channel: str | None = None) -> list[LedgerRow]: ...

    @abstractmethod
    def ledger_last_delivered(self, channel: str) -> datetime | None:
        """End of the window covered by the channel's last delivered digest, or None."""

    @abstractmethod
    def ledger_put_claim(
        self,
        channel: str,
        digest_date: date,
        token: str,
        now: datetime,
        lease_until: datetime,
        attempts: int,
    ) -> None:
        """Insert or overwrite the row as claimed by ``token`` (inside :meth:`ledger_lock`)."""

    @abstractmethod
    def ledger_update(
        self,
        channel: str,
        digest_date: date,
        values: dict[str, object],
        *,
        token: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Set ``values`` on the row; with ``token``, only while that claim holds at ``now``
        (status claimed, same token, lease running). True if the row was updated."""

    @abstractmethod
    def ledger_release(self, channel: str, digest_date: date, now: datetime) -> bool:
        """Clear an in-doubt row's ``sent_at`` so it may be posted again."""

    # -- Slack event dedupe ------------------------------------------------------------------
    # -- follows, the alert ledger and desk channels (issue 12; see bot.follows) -------------
    @abstractmethod
    def add_follow(self, user_id: str, query: str) -> Follow:
        """Save a follow, created now."""

    @abstractmethod
    def follows(self, user_id: str | None = None) -> list[Follow]:
        """A user's follows (or everyone's), oldest first."""

    @abstractmethod
    def remove_follow(self, user_id: str, follow_id: int) -> bool:
        """Remove the user's follow (only theirs); False when there is none such."""

    @abstractmethod
    def take_follow_queue(self, limit: int) -> list[int]:
        """Take (remove) up to ``limit`` articles queued by ``upsert_article`` when first seen:
        each is taken by one process only."""

    @abstractmethod
    def claim_alert(self, follow_id: int, article_id: int, user_id: str) -> bool:
        """Claim (follow, article) in the alert ledger; False when claimed before, anywhere."""

    @abstractmethod
    def mark_alerts(
        self, pairs: Sequence[tuple[int, int]], status: str, error: str | None = None
    ) -> None:
        """Record how the DM of these claims went ('sent' or 'failed')."""

    @abstractmethod
    def alert_rows(self) -> list[tuple[int, int, str, str]]:
        """(follow id, article id, user id, status) of every claimed alert."""

    @abstractmethod
    def set_desk(self, channel: str, query: str, created_by: str | None) -> None:
        """Subscribe a channel to the daily digest (its stories filtered by ``query``)."""

    @abstractmethod
    def remove_desk(self, channel: str) -> bool: ...

    @abstractmethod
    def desks(self) -> list[DeskChannel]: ...

    @abstractmethod
    def seen_before(self, keys: Sequence[str], ttl: float) -> bool:
        """True if any key was recorded less than ``ttl`` seconds ago; records them all."""

    @abstractmethod
    def forget_kept(self, article_ids: Iterable[int] | None = None) -> None:
        """Drop what this store keeps in memory of these articles' rows (of every article when
        None): the index is about to show them changed."""

    @abstractmethod
    def refresh_statistics(self) -> None:
        """After a bulk load, let the query planner see the tables' new sizes. Without that,
        PostgreSQL fetched a search's hits by scanning every article until its autovacuum got
        to the tables (1.5 ms for 5 passages of 5,000; 0.1 ms after)."""

    # -- copying (migrate-store) -------------------------------------------------------------
    @abstractmethod
    def is_empty(self) -> bool:
        """No article and no ledger row."""

    @abstractmethod
    def export_rows(self, table: str) -> tuple[list[str], Iterable[tuple[Any, ...]]]:
        """(column names, rows in a portable form) of one of :data:`COPIED_TABLES`."""

    @abstractmethod
    def import_rows(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        """Insert rows exported by :meth:`export_rows`, keeping ids; returns how many."""

    @abstractmethod
    def after_import(self) -> None:
        """Bring id sequences past the imported ids and log every article as changed."""
