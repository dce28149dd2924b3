"""The archive: article files -> store + local search index, kept consistent with each other.

``Archive`` is the one object the adapters (CLI, Slack) hold. It ingests files incrementally,
answers searches and gives each thread its store (SQLite: a connection per thread; PostgreSQL:
one pooled store for all). The index follows the store's change log (see ``bot.changes``), so an
article ingested by any process on any host reaches this process's index at its next
:meth:`Archive.catch_up`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from stat import S_ISLNK, S_ISREG
from typing import TYPE_CHECKING, Any

import tantivy

from bot import follows
from bot.changes import FETCH, RETENTION, Cursor
from bot.digest.build import DIGEST_STORIES
from bot.feeds import FeedFetch, fetch_feed
from bot.index import IndexRow, PassageIndex
from bot.logs import redact
from bot.models import (
    Article,
    DeskChannel,
    Follow,
    IngestReport,
    Passage,
    SearchResult,
    StoredArticle,
)
from bot.reading import ReadFile, read_files, workers_for
from bot.search import PassageSearch
from bot.settings import Settings
from bot.store import Store, open_store, utcnow
from bot.store.base import IndexRowTuple
from bot.text import index_text

if TYPE_CHECKING:
    from bot.digest.build import Digest
    from bot.digest.delivery import DigestPreview
    from bot.digest.ledger import Ledger

log = logging.getLogger("newsbot.archive")

ARTICLE_SUFFIXES = (".txt", ".text", ".md")
FEEDS_META_KEY = "feeds"
BATCH = 500
BULK_ARTICLES = 100  # an ingest that changed this many articles refreshes the planner statistics
# Articles are written to the store in batches of BATCH, but the index is committed rarely: every
# commit leaves a segment, and a fuzzy term query walks the term dictionary of every segment.
INDEX_COMMIT_PASSAGES = 1_000_000
# Files that could not be read, with the size and mtime they had then (store meta): an unchanged
# bad file is not re-read, and not reported again, by every search's freshness check.
_SKIPPED_META = "skipped_files"
Progress = Callable[[int, int], None]
# Called after an ingest committed (the index included) with its report; ``report.new_ids`` are
# the articles first seen in it.
IngestListener = Callable[[IngestReport], None]


@dataclass(frozen=True, slots=True)
class _File:
    path: str  # as the user named it (shown back to them)
    realpath: str
    size: int
    mtime_ns: int


# A file to write: its article, SHA-1 and its paragraphs' index texts (() from a feed: its
# entries' passages are read back from the store to be indexed).
_Parsed = tuple[_File, Article, str, tuple[str, ...]]


class Archive:
    def __init__(self, settings: Settings, *, catch_up: bool = True) -> None:
        self.settings = settings
        self._local = threading.local()
        self._stores: list[Store] = []
        self._shared: Store | None = None
        self._stores_lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._listeners: list[IngestListener] = []
        self.index = PassageIndex(settings.index_path)
        self.cursor_path = self.index.path / "changes.json"
        self.caught_up = False
        # Where this process last left the cursor beside the index: another process on this
        # host that shares the index folder may move it (and change the index) on its own.
        self._cursor_high: int | None = None
        self.searcher = PassageSearch(self.index, lambda: self.store)
        if catch_up:
            self.catch_up()

    @classmethod
    def open(cls, settings: Settings, *, catch_up: bool = True) -> Archive:
        return cls(settings, catch_up=catch_up)

    @property
    def store(self) -> Store:
        """This thread's store (SQLite connections are not shared; a PostgreSQL pool is)."""
        if self._shared is not None:
            return self._shared
        store = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.settings.database)
            with self._stores_lock:
                self._stores.append(store)
                if store.shared:
                    self._shared = store
            self._local.store = store
        return store

    def close(self) -> None:
        with self._stores_lock:
            for store in self._stores:
                store.close()
            self._stores.clear()
            self._shared = None
        self._local = threading.local()

    def add_ingest_listener(self, listener: IngestListener) -> None:
        """Call ``listener(report)`` after every ingest that saw new articles (any path: the
        folder, the watcher, a feed, ``newsbot ingest``)."""
        self._listeners.append(listener)

    def _tell_listeners(self, report: IngestReport) -> None:
        if not report.new_ids:
            return
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception as exc:  # a listener never fails the ingest
                log.warning("ingest listener failed: %s: %s", type(exc).__name__, exc)

    # -- follows and desk digests (the core is bot.follows) ------------------------------------
    def follow(self, user_id: str, query: str) -> Follow | str:
        """Save a follow; a malformed query gives the hint search would give instead."""
        return follows.add_follow(self.store, user_id, query)

    def following(self, user_id: str) -> list[Follow]:
        return self.store.follows(user_id)

    def unfollow(self, user_id: str, follow_id: int) -> bool:
        return self.store.remove_follow(user_id, follow_id)

    def take_alerts(self, limit: int = follows.TAKE_ARTICLES) -> list[follows.UserAlert]:
        """Run every follow over the queued new articles and claim the alerts to send."""
        return follows.take_alerts(self.store, self._index_rows, limit=limit)

    def mark_alerts(
        self, pairs: Sequence[tuple[int, int]], status: str, error: str | None = None
    ) -> None:
        """Record how the DM of these claimed alerts (follow id, article id) went: 'sent' or
        'failed' (with the error); they stay claimed either way, never sent twice."""
        self.store.mark_alerts(pairs, status, error)

    def match_articles(self, query: str, article_ids: Sequence[int]) -> set[int]:
        """The articles among ``article_ids`` with a passage matching ``query`` (percolated)."""
        return follows.matching_articles(query, article_ids, self._index_rows)

    def subscribe_desk(self, channel: str, query: str, user_id: str | None) -> None:
        """Send ``channel`` the daily digest, only stories matching ``query`` when not ''."""
        self.store.set_desk(channel, query, user_id)

    def unsubscribe_desk(self, channel: str) -> bool:
        return self.store.remove_desk(channel)

    def desks(self) -> list[DeskChannel]:
        """The channels subscribed with ``/news digest here`` (DIGEST_CHANNEL not included)."""
        return self.store.desks()

    def desk_query(self, channel: str | None) -> str | None:
        """The query of the desk subscribed in ``channel`` ('' for every story), or None when
        ``channel`` is not a desk."""
        if not channel:
            return None
        return next((d.query for d in self.desks() if d.channel == channel), None)

    # -- the digest, for the adapters (the core is bot.digest) ---------------------------------
    def digest(
        self,
        since: datetime,
        until: datetime,
        day: date,
        *,
        channel: str | None = None,
        max_stories: int | None = DIGEST_STORIES,
    ) -> Digest:
        """The digest of ``[since, until)`` as ``channel`` gets it: in a desk channel only the
        stories matching the desk's query, as the schedule builds it; elsewhere every story.
        ``max_stories`` None: all of them (the "See all" replies)."""
        return self._digest_build(self.desk_query(channel) or "", max_stories)(since, until, day)

    def preview_digest(
        self,
        channel: str | None = None,
        now: datetime | None = None,
        *,
        max_stories: int | None = DIGEST_STORIES,
    ) -> DigestPreview:
        """The next digest as it would be posted now (nothing posted, the ledger untouched).

        In a desk channel it is that desk's digest: its stories (the desk's query) over its own
        window. Anywhere else it is the DIGEST_CHANNEL digest, every story.
        """
        from bot.digest.delivery import preview_digest

        settings, query = self.settings, self.desk_query(channel)
        if channel and query is not None:
            settings = replace(settings, digest_channels=(channel,))
        build = self._digest_build(query or "", max_stories)
        return preview_digest(settings, self.store, build, now=now)

    def digest_ledger(self) -> Ledger:
        """The delivery ledger (claim, lease, sent / failed) over this thread's store."""
        from bot.digest.ledger import Ledger

        return Ledger(self.store)

    def _digest_build(
        self, query: str, max_stories: int | None
    ) -> Callable[[datetime, datetime, date], Digest]:
        from bot.digest.desks import desk_build

        return desk_build(self.store, query, self.match_articles, max_stories)

    # -- search --------------------------------------------------------------------------------
    def search(
        self, query: str, limit: int = 5, offset: int = 0, sort: str = "relevance"
    ) -> SearchResult:
        return self.searcher.search(query, limit=limit, offset=offset, sort=sort)

    def related(self, passage_id: int, limit: int = 5) -> SearchResult | None:
        """The passages of other articles most like this one (None: no such passage)."""
        return self.searcher.related(passage_id, limit=limit)

    # -- reading, for the adapters (they never hold a store themselves) -------------------------
    def article(self, article_id: int) -> StoredArticle | None:
        return self.store.article(article_id)

    def articles(self, **window: Any) -> list[StoredArticle]:
        return self.store.articles(**window)

    def article_by_path(self, path: str) -> StoredArticle | None:
        return self.store.article_by_path(path)

    def passages_of(self, article_id: int) -> list[Passage]:
        return self.store.passages_of(article_id)

    def passages_by_id(self, ids: Sequence[int]) -> dict[int, tuple[Passage, StoredArticle]]:
        return self.store.passages_by_id(ids)

    def passage_counts(self, article_ids: Sequence[int]) -> dict[int, int]:
        """article id -> its number of passages (0 for none), in one query."""
        return self.store.passage_counts(article_ids)

    def counts(self) -> tuple[int, int]:
        """(live articles, passages)."""
        return self.store.counts()

    def check_store(self) -> str:
        """The database's own integrity check: 'ok', or what is wrong (for doctor)."""
        return self.store.check()

    def scheduler_heartbeat(self) -> dict[str, Any] | None:
        """What the active scheduler last wrote (holder, since, heartbeat), or None (doctor)."""
        from bot.election import read_heartbeat

        return read_heartbeat(self.store)

    def seen_before(self, keys: Sequence[str], ttl: float) -> bool:
        """Slack event dedupe, shared by every worker on this store."""
        return self.store.seen_before(keys, ttl)

    # -- following the change log --------------------------------------------------------------
    def catch_up(
        self,
        wait_seconds: float = 30.0,
        *,
        batch: int = FETCH,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Bring the index in line with the store: build it if it is new, else apply the change
        log from where it stands, ``batch`` changes at a time (rebuilt instead if the log was
        pruned past that). ``on_batch(applied so far)`` is called after each batch (progress of
        a long catch-up). Returns the changes applied (or passages, for a build)."""
        with self._index_lock:
            cursor = self._load_cursor()
            if self.index.needs_rebuild() and self.store.counts()[1]:
                log.warning("search index missing or empty: building it from the database")
                n = self._rebuild()
                self.caught_up = True
                return n
            if (
                cursor is not None
                and not cursor.pending(self.store)
                and not cursor.behind(self.store)
            ):
                self.caught_up = True
                return 0
            writer = self.index.writer(wait_seconds)
            try:
                cursor = self._load_cursor() or Cursor()  # another may have moved it
                applied, _ = self._apply_changes(writer, cursor, batch, on_batch)
                self._commit_index(writer, cursor)
                writer.wait_merging_threads()
            except BaseException:
                self.index.rollback(writer)
                raise
        if applied:
            log.info("search index caught up: %d changes applied", applied)
        self.caught_up = True
        return applied

    def prune_changes(self, now: datetime | None = None) -> int:
        """Drop the change log's entries older than ``bot.changes.RETENTION`` (the active
        scheduler's job); a worker that lags further rebuilds its index. Returns rows deleted."""
        cutoff = (now or utcnow()) - RETENTION
        deleted = self.store.prune_changes(cutoff)
        if deleted:
            log.info("change log: %d entries older than %s pruned", deleted, cutoff.isoformat())
        return deleted

    def index_status(self) -> dict[str, int | bool]:
        """The index's place in the change log and the log's head (for /readyz and doctor)."""
        cursor = Cursor.load(self.cursor_path) or Cursor()
        head = self.store.change_head()
        return {
            "index_position": cursor.high,
            "store_position": head,
            "lag": max(0, head - cursor.high),
            "caught_up": self.caught_up,
        }

    def rebuild_index(self) -> int:
        """Rebuild the whole search index from the store; returns the passages indexed."""
        with self._index_lock:
            return self._rebuild()

    def _rebuild(self) -> int:
        writer = self.index.writer()
        try:
            cursor = Cursor()
            n = self._refill(writer, cursor)
            self._commit_index(writer, cursor)
            writer.wait_merging_threads()
        except BaseException:
            self.index.rollback(writer)
            raise
        return n

    def _refill(self, writer: tantivy.IndexWriter, cursor: Cursor) -> int:
        """Replace the whole index with the store's passages (uncommitted) and move ``cursor`` to
        where that read stood in the log: its head, still waiting for the numbers below it that
        a transaction in flight may commit (``Store.index_snapshot``). Returns the passages
        indexed."""
        with self.store.index_snapshot() as snapshot:
            self.index.clear(writer)
            n = self.index.replace_articles(writer, (), _tokenized(snapshot.rows))
        # after the snapshot: rows kept before it may be older than what the index now holds
        self.store.forget_kept()
        cursor.reset(snapshot.head, snapshot.unsettled)
        if snapshot.unsettled:
            log.info(
                "search index rebuilt at change %d; waiting for %d changes below it that were"
                " not committed yet",
                snapshot.head,
                len(snapshot.unsettled),
            )
        return n

    def _apply_changes(
        self,
        writer: tantivy.IndexWriter,
        cursor: Cursor,
        batch: int = FETCH,
        on_batch: Callable[[int], None] | None = None,
        written: Mapping[int, tuple[int, tuple[str, ...]]] | None = None,
    ) -> tuple[int, int]:
        """Re-index every article the log says changed since ``cursor`` (uncommitted); the whole
        index when the log was pruned past it. Returns (changes applied, passages indexed).

        ``written``: article id -> (the change this process logged writing it, its passages'
        index texts). Where that change is the article's latest among the changes read, its
        passages are indexed from these texts (only their ids and the article's columns are
        read back); otherwise another process wrote it since, and it is read from the store
        like any other (a later change beyond this read re-reads it in a later round)."""
        applied = passages = 0
        while True:
            changes = cursor.pending(self.store, batch)
            if cursor.behind(self.store):  # asked after the read (see Cursor.behind)
                log.warning(
                    "search index at change %d, but the change log was pruned past it:"
                    " rebuilding the index from the database",
                    cursor.position,
                )
                passages += self._refill(writer, cursor)
                continue
            if not changes:
                return applied, passages
            latest: dict[int, int] = {}
            for seq, aid in changes:
                latest[aid] = max(seq, latest.get(aid, 0))
            ids = sorted(latest)
            mine = {
                aid: texts
                for aid, (change, texts) in (written or {}).items()
                if latest.get(aid) == change
            }
            # what the store kept of them is read again (it is kept no older than the index)
            self.store.forget_kept(ids)
            # Those in ``mine`` from the texts in hand (their words learnt when the texts were
            # made), the rest as the store holds them: all deleted first, then added.
            held, mismatched = self._held_rows(mine)
            passages += self.index.replace_articles(writer, ids, held, words_known=True)
            read = [aid for aid in ids if aid not in mine or aid in mismatched]
            passages += self.index.replace_articles(writer, (), self._index_rows(read))
            cursor.mark(seq for seq, _ in changes)
            applied += len(changes)
            if on_batch is not None:
                on_batch(applied)

    def _commit_index(self, writer: tantivy.IndexWriter, cursor: Cursor) -> None:
        self.index.commit(writer)
        self.index.refresh()
        cursor.save(self.cursor_path)
        self._cursor_high = cursor.high

    def _load_cursor(self) -> Cursor | None:
        """The index's cursor as saved. One that another process moved means index changes
        this one did not apply (nor forget the kept rows of): see them now, and forget every
        kept row."""
        cursor = Cursor.load(self.cursor_path)
        high = cursor.high if cursor is not None else None
        if self._cursor_high is not None and high != self._cursor_high:
            self.index.refresh()
            self.store.forget_kept()
        self._cursor_high = high
        return cursor

    def _held_rows(self, mine: Mapping[int, tuple[str, ...]]) -> tuple[list[IndexRow], set[int]]:
        """The index rows of the articles in ``mine`` with the index texts it holds for them
        (their passages read back without their text), and the articles whose stored passages
        do not match those texts in number (to be read again, texts and all)."""
        rows: list[IndexRow] = []
        mismatched: set[int] = set()
        if not mine:
            return rows, mismatched
        read = self.store.index_rows(sorted(mine), texts=False)
        for aid, group in groupby(read, key=itemgetter(1)):
            found, texts = list(group), mine[aid]
            if len(found) != len(texts):
                mismatched.add(aid)
                continue
            head, by = index_text(found[0][3]), index_text(found[0][4])
            rows += [
                (pid, aid, t, head, by, ts) for (pid, *_, ts), t in zip(found, texts, strict=True)
            ]
        return rows, mismatched

    def _index_rows(self, article_ids: Sequence[int] | None) -> Iterable[IndexRow]:
        return _tokenized(self.store.index_rows(article_ids))

    # -- ingest --------------------------------------------------------------------------------
    def scan(
        self, paths: Sequence[str | Path] | None = None
    ) -> tuple[list[_File], list[str], IngestReport]:
        """Files under the given paths (default: the articles folder), the roots whose missing
        files count as removed, and a report holding what could not be listed.

        A folder that is missing or holds no article file at all is never such a root: an
        unmounted share or a mistyped path must not retire the archive (its articles stay, with
        a warning); remove articles by deleting their files, not the folder."""
        report = IngestReport()
        roots = [Path(p) for p in paths] if paths else [self.settings.articles_dir]
        files: list[_File] = []
        removal_roots: list[str] = []
        seen: set[str] = set()
        for root in roots:
            if root.is_dir():
                found_here = list(_walk(root, report))
                if found_here:
                    removal_roots.append(os.path.realpath(root))
                else:
                    report.warnings.append(
                        (str(root), "no article files here (an unmounted or emptied folder?);"
                         " the archive keeps what it holds")
                    )  # fmt: skip
                for found in found_here:
                    if found.realpath not in seen:
                        seen.add(found.realpath)
                        files.append(found)
            elif root.exists() or root.is_symlink():
                try:
                    st = root.stat()
                except OSError as exc:
                    report.skipped.append((str(root), f"cannot read: {exc.strerror or exc}"))
                    continue
                real = os.path.realpath(root)
                if real not in seen:
                    seen.add(real)
                    files.append(_File(os.path.normpath(root), real, st.st_size, st.st_mtime_ns))
            else:
                report.skipped.append((str(root), "no such file or folder"))
        return files, removal_roots, report

    def is_stale(self, paths: Sequence[str | Path] | None = None) -> bool:
        """True when a file was added, changed or removed since the last ingest (stat only)."""
        files, roots, _ = self.scan(paths)
        states = self.store.file_states()
        skipped = self._skipped()
        live = set()
        for f in files:
            live.add(f.realpath)
            if skipped.get(f.realpath) == [f.size, f.mtime_ns]:
                continue  # still the file that could not be read: nothing new to say
            known = states.get(f.realpath)
            if known is None or known[3] or known[:2] != (f.size, f.mtime_ns):
                return True
        return any(
            not removed and real not in live and _under(real, roots)
            for real, (_, _, _, removed) in states.items()
        )

    def refresh_if_stale(self, progress: Progress | None = None) -> IngestReport | None:
        """Ingest the articles folder if it changed; a file skipped before and unchanged since
        is not read (or reported) again."""
        return self.ingest(progress=progress, recheck=False) if self.is_stale() else None

    def _skipped(self) -> dict[str, list[int]]:
        try:
            found = json.loads(self.store.get_meta(_SKIPPED_META) or "{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def _remember_skipped(
        self,
        before: dict[str, list[int]],
        files: list[_File],
        report: IngestReport,
        still_bad: set[str],
    ) -> None:
        bad = {path for path, _ in report.skipped}
        after = {
            f.realpath: [f.size, f.mtime_ns]
            for f in files
            if f.path in bad or f.realpath in still_bad
        }
        seen = {f.realpath for f in files}
        # Skipped files not looked at this time (another folder) stay remembered.
        after.update((real, stat) for real, stat in before.items() if real not in seen)
        if after != before:
            self.store.set_meta(_SKIPPED_META, json.dumps(after))

    def ingest(
        self,
        paths: Sequence[str | Path] | None = None,
        progress: Progress | None = None,
        *,
        recheck: bool = True,
        workers: int | None = None,
    ) -> IngestReport:
        """Add new files, replace changed ones, retire missing ones. Idempotent; one bad file
        never stops the rest. ``recheck=False`` leaves out files skipped before and unchanged
        since (neither read nor reported). ``workers``: processes that read the files (0: this
        one; None: ``bot.reading.workers_for`` the number of files)."""
        started = time.perf_counter()
        with self._ingest_lock:
            files, roots, report = self.scan(paths)
            states = self.store.file_states()
            skipped = self._skipped()
            still_bad: set[str] = set()
            seen = {f.realpath for f in files}
            removed = [
                real
                for real, (_, _, _, was_removed) in states.items()
                if not was_removed and real not in seen and _under(real, roots)
            ]

            def to_read(f: _File) -> bool:
                known = states.get(f.realpath)
                if not recheck and skipped.get(f.realpath) == [f.size, f.mtime_ns]:
                    still_bad.add(f.realpath)
                    return False
                if known and not known[3] and known[:2] == (f.size, f.mtime_ns):
                    report.unchanged += 1
                    return False
                return True

            reading = [f for f in files if to_read(f)]
            done = len(files) - len(reading)

            def batches() -> Iterator[list[_Parsed]]:
                """Files read BATCH at a time: a big first ingest never holds every text."""
                parsed: list[_Parsed] = []
                count = workers_for(len(reading)) if workers is None else workers
                read = read_files(((f.realpath, f.path) for f in reading), count)
                for n, (f, found) in enumerate(zip(reading, read, strict=True), done + 1):
                    self._accept(f, states.get(f.realpath), found, report, parsed)
                    if progress:
                        progress(n, len(files))
                    if len(parsed) >= BATCH:
                        yield parsed
                        parsed = []
                yield parsed

            self._write(batches(), removed, states, report)
            if len(report.added) + len(report.updated) + len(report.removed) >= BULK_ARTICLES:
                self._refresh_statistics()
            self._remember_skipped(skipped, files, report, still_bad)
        report.took_ms = round((time.perf_counter() - started) * 1000, 1)
        self._tell_listeners(report)
        return report

    def ingest_feed(self, url: str) -> tuple[FeedFetch, IngestReport]:
        """Poll one feed (conditional GET) and add or replace its entries' articles.

        A failing feed changes nothing but its remembered result; entries are never removed
        because a feed dropped them (feeds show only their latest items).
        """
        started = time.perf_counter()
        states = self.feed_states()
        known_feed = states.get(url, {})
        fetched = fetch_feed(url, etag=known_feed.get("etag"), modified=known_feed.get("modified"))
        report = IngestReport(skipped=list(fetched.skipped))
        if fetched.status == "ok":
            with self._ingest_lock:
                known = self.store.file_states([e.key for e in fetched.entries])
                parsed: list[_Parsed] = []
                for entry in fetched.entries:
                    state = known.get(entry.key)
                    if state and not state[3] and state[2] == entry.digest:
                        report.unchanged += 1
                    else:
                        parsed.append(
                            (
                                _File(entry.article.path, entry.key, 0, 0),
                                entry.article,
                                entry.digest,
                                (),
                            )
                        )
                self._write([parsed], [], known, report)
        states[url] = {
            "etag": fetched.etag,
            "modified": fetched.modified,
            "status": fetched.status,
            "message": fetched.message,
            "checked_at": time.time(),
            "added": len(report.added),
            "updated": len(report.updated),
        }
        self.store.set_meta(FEEDS_META_KEY, json.dumps(states))
        report.took_ms = round((time.perf_counter() - started) * 1000, 1)
        self._tell_listeners(report)
        return fetched, report

    def feed_states(self) -> dict[str, dict[str, Any]]:
        """Each polled feed's validators and last result, by URL."""
        raw = self.store.get_meta(FEEDS_META_KEY)
        try:
            states = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return states if isinstance(states, dict) else {}

    def _accept(
        self,
        f: _File,
        known: tuple[int, int, str, bool] | None,
        found: ReadFile,
        report: IngestReport,
        parsed: list[_Parsed],
    ) -> None:
        """Take a file's reading into ``parsed``, or into the report as skipped or unchanged."""
        if found.words:
            self.index.learn(found.words.split())
        article = found.article
        if article is None:
            reason = found.error
            if known and not known[3] and not found.unreadable:
                reason += " (the previous version stays searchable)"
            report.skipped.append((f.path, reason))
            log.info("skipped %s: %s", f.path, reason)
            return
        for warning in article.warnings:
            report.warnings.append((f.path, warning))
            log.info("%s: %s", f.path, warning)
        if known and not known[3] and known[2] == found.digest:
            # Touched but not changed: remember the new stat, skip the rewrite.
            self.store.touch_file(f.realpath, f.path, f.size, f.mtime_ns)
            report.unchanged += 1
            return
        parsed.append((f, article, found.digest, found.index_texts))

    def _refresh_statistics(self) -> None:
        """Planner statistics after a bulk ingest; the ingest itself is committed whatever
        becomes of this."""
        try:
            self.store.refresh_statistics()
        except Exception as exc:
            log.warning(
                "could not refresh the database's statistics after a bulk ingest (%s); searches"
                " may be slower until its autovacuum analyzes the tables",
                redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__,
            )

    def _write(
        self,
        batches: Iterable[list[_Parsed]],
        removed: list[str],
        states: dict[str, tuple[int, int, str, bool]],
        report: IngestReport,
    ) -> None:
        """Write the batches to the store (each in one transaction, logged in the change log),
        then bring this process's index up to the log: its own changes and any other's."""
        store = self.store
        writer: tantivy.IndexWriter | None = None
        cursor = Cursor()
        rows = 0
        first = True
        written: dict[int, tuple[int, tuple[str, ...]]] = {}  # see _apply_changes
        with self._index_lock:
            try:
                for batch in batches:
                    if not batch and not (first and removed):
                        continue
                    if writer is None:
                        writer = self.index.writer()
                        cursor = self._load_cursor() or Cursor()
                    with store.transaction():
                        for f, article, digest, texts in batch:
                            article_id, is_new, change = store.upsert_article(
                                f.realpath, article, f.size, f.mtime_ns, digest
                            )
                            if texts:
                                written[article_id] = (change, texts)
                            if is_new:
                                report.new_ids.append(article_id)
                            known = states.get(f.realpath)
                            added = is_new or (known and known[3])
                            (report.added if added else report.updated).append(f.path)
                        if first:
                            for real in removed:
                                article_id = store.mark_removed(real)
                                if article_id is not None:
                                    report.removed.append(_display(store, article_id, real))
                    first = False
                    rows += self._apply_changes(writer, cursor, written=written)[1]
                    written.clear()
                    if rows >= INDEX_COMMIT_PASSAGES:
                        self._commit_index(writer, cursor)
                        rows = 0
                if writer is not None:
                    self._commit_index(writer, cursor)
                    writer.wait_merging_threads()
            except BaseException:
                if writer is not None:
                    self.index.rollback(writer)
                raise


def _tokenized(rows: Iterable[IndexRowTuple]) -> Iterator[IndexRow]:
    """The store's index rows, tokenized for the index."""
    # Rows come article by article: an article's headline and byline are tokenized once.
    last, head, by = -1, "", ""
    for pid, aid, body, title, byline, ts in rows:
        if aid != last:
            last, head, by = aid, index_text(title), index_text(byline)
        yield pid, aid, index_text(body), head, by, ts


def _display(store: Store, article_id: int, fallback: str) -> str:
    article = store.article(article_id)
    return article.path if article else fallback


def _under(realpath: str, roots: Sequence[str]) -> bool:
    return any(realpath == r or realpath.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _walk(root: Path, report: IngestReport) -> Iterable[_File]:
    """Article files under a folder, sorted; symlinked folders are not followed (no loops)."""

    def on_error(exc: OSError) -> None:
        report.skipped.append((str(exc.filename or root), f"cannot list: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        real_dir = ""  # the folder's real path, resolved once for its files
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(ARTICLE_SUFFIXES):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                link = S_ISLNK(st.st_mode)
                if link:
                    st = os.stat(path)
            except OSError as exc:
                report.skipped.append((path, f"cannot read: {exc.strerror or exc}"))
                continue
            if not S_ISREG(st.st_mode):
                report.skipped.append((path, "not a regular file"))
                continue
            if link:
                real = os.path.realpath(path)
            else:  # a file that is no link is where its folder really is
                real_dir = real_dir or os.path.realpath(dirpath)
                real = os.path.join(real_dir, name)
            yield _File(os.path.normpath(path), real, st.st_size, st.st_mtime_ns)
