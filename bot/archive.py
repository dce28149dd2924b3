"""The archive: article files -> SQLite store + search index, kept consistent with each other.

``Archive`` is the one object the adapters (CLI, Slack) hold. It ingests files incrementally,
answers searches and gives each thread its own store connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from bot import follows
from bot.articles import ArticleError, parse_article
from bot.feeds import FeedFetch, fetch_feed
from bot.index import IndexRow, PassageIndex
from bot.models import Article, DeskChannel, Follow, IngestReport, SearchResult
from bot.search import PassageSearch
from bot.settings import Settings
from bot.store import Store, connect, transaction
from bot.text import index_text

log = logging.getLogger("newsbot.archive")

ARTICLE_SUFFIXES = (".txt", ".text", ".md")
FEEDS_META_KEY = "feeds"
BATCH = 500
# Articles are written to SQLite in batches of BATCH, but the index is committed rarely: every
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


class Archive:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._stores: list[Store] = []
        self._stores_lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._listeners: list[IngestListener] = []
        self.index = PassageIndex(settings.index_path)
        self.searcher = PassageSearch(self.index, lambda: self.store)
        self._repair()

    @classmethod
    def open(cls, settings: Settings) -> Archive:
        return cls(settings)

    @property
    def store(self) -> Store:
        """This thread's connection to the store (SQLite connections are not shared)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store(connect(self.settings.db_path))
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    def close(self) -> None:
        with self._stores_lock:
            for store in self._stores:
                store.close()
            self._stores.clear()
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

    # -- search --------------------------------------------------------------------------------
    def search(
        self, query: str, limit: int = 5, offset: int = 0, sort: str = "relevance"
    ) -> SearchResult:
        return self.searcher.search(query, limit=limit, offset=offset, sort=sort)

    def related(self, passage_id: int, limit: int = 5) -> SearchResult | None:
        """The passages of other articles most like this one (None: no such passage)."""
        return self.searcher.related(passage_id, limit=limit)

    # -- index consistency ---------------------------------------------------------------------
    def _repair(self) -> None:
        """Bring the index in line with the store after a crash, or build it if it is new."""
        # A new index, or one whose first build was interrupted, is empty.
        if self.index.needs_rebuild():
            if self.store.counts()[1]:
                log.warning("search index missing or empty: rebuilding it from the database")
                self.rebuild_index()
            return
        pending = self.store.pending_index()
        if pending:
            log.warning("finishing an interrupted index update (%d articles)", len(pending))
            self._reindex(pending)

    def rebuild_index(self) -> int:
        """Rebuild the whole search index from the store; returns the passages indexed."""
        writer = self.index.writer()
        try:
            self.index.clear(writer)
            n = self.index.replace_articles(writer, (), self._index_rows(None))
            self.index.commit(writer)
            self.index.refresh()
            writer.wait_merging_threads()
        except BaseException:
            self.index.rollback(writer)
            raise
        self.store.clear_pending(self.store.pending_index())
        return n

    def _reindex(self, article_ids: Sequence[int]) -> None:
        """Re-index these articles from the store (after an interrupted index update)."""
        writer = self.index.writer()
        try:
            self.index.replace_articles(writer, article_ids, self._index_rows(article_ids))
            self._commit_index(writer, article_ids)
            writer.wait_merging_threads()
        except BaseException:
            self.index.rollback(writer)
            raise

    def _commit_index(self, writer: tantivy.IndexWriter, article_ids: Sequence[int]) -> None:
        self.index.commit(writer)
        self.index.refresh()
        self.store.clear_pending(article_ids)

    def _index_rows(self, article_ids: Sequence[int] | None) -> Iterable[IndexRow]:
        # Rows come article by article: an article's headline and byline are tokenized once.
        last, head, by = -1, "", ""
        for pid, aid, body, title, byline, ts in self.store.index_rows(article_ids):
            if aid != last:
                last, head, by = aid, index_text(title), index_text(byline)
            yield pid, aid, index_text(body), head, by, ts

    # -- ingest --------------------------------------------------------------------------------
    def scan(
        self, paths: Sequence[str | Path] | None = None
    ) -> tuple[list[_File], list[str], IngestReport]:
        """Files under the given paths (default: the articles folder), the roots whose missing
        files count as removed, and a report holding what could not be listed."""
        report = IngestReport()
        roots = [Path(p) for p in paths] if paths else [self.settings.articles_dir]
        files: list[_File] = []
        dir_roots: list[str] = []
        explicit_missing: list[str] = []
        seen: set[str] = set()
        for root in roots:
            if root.is_dir():
                dir_roots.append(os.path.realpath(root))
                for found in _walk(root, report):
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
                explicit_missing.append(os.path.realpath(root))
                report.skipped.append((str(root), "no such file or folder"))
        return files, [*dir_roots, *explicit_missing], report

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
    ) -> IngestReport:
        """Add new files, replace changed ones, retire missing ones. Idempotent; one bad file
        never stops the rest. ``recheck=False`` leaves out files skipped before and unchanged
        since (neither read nor reported)."""
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

            def batches() -> Iterator[list[tuple[_File, Article, str]]]:
                """Files read BATCH at a time: a big first ingest never holds every text."""
                parsed: list[tuple[_File, Article, str]] = []
                for done, f in enumerate(files, 1):
                    known = states.get(f.realpath)
                    if not recheck and skipped.get(f.realpath) == [f.size, f.mtime_ns]:
                        still_bad.add(f.realpath)
                    elif known and not known[3] and known[:2] == (f.size, f.mtime_ns):
                        report.unchanged += 1
                    else:
                        self._read(f, known, report, parsed)
                    if progress:
                        progress(done, len(files))
                    if len(parsed) >= BATCH:
                        yield parsed
                        parsed = []
                yield parsed

            self._write(batches(), removed, states, report)
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
                known = self.store.file_states()
                parsed: list[tuple[_File, Article, str]] = []
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

    def _read(
        self,
        f: _File,
        known: tuple[int, int, str, bool] | None,
        report: IngestReport,
        parsed: list[tuple[_File, Article, str]],
    ) -> None:
        try:
            article = parse_article(f.realpath, display_path=f.path)
            digest = hashlib.sha1(Path(f.realpath).read_bytes()).hexdigest()
        except ArticleError as exc:
            reason = str(exc)
            if known and not known[3]:
                reason += " (the previous version stays searchable)"
            report.skipped.append((f.path, reason))
            log.info("skipped %s: %s", f.path, reason)
            return
        except OSError as exc:
            report.skipped.append((f.path, f"cannot read: {exc.strerror or exc}"))
            return
        for warning in article.warnings:
            report.warnings.append((f.path, warning))
            log.info("%s: %s", f.path, warning)
        if known and not known[3] and known[2] == digest:
            # Touched but not changed: remember the new stat, skip the rewrite.
            self.store.touch_file(f.realpath, f.path, f.size, f.mtime_ns)
            report.unchanged += 1
            return
        parsed.append((f, article, digest))

    def _write(
        self,
        batches: Iterable[list[tuple[_File, Article, str]]],
        removed: list[str],
        states: dict[str, tuple[int, int, str, bool]],
        report: IngestReport,
    ) -> None:
        store = self.store
        writer: tantivy.IndexWriter | None = None
        pending: list[int] = []
        rows = 0
        first = True
        try:
            for batch in batches:
                if not batch and not (first and removed):
                    continue
                if writer is None:
                    writer = self.index.writer()
                ids: list[int] = []
                with transaction(store.conn):
                    for f, article, digest in batch:
                        article_id, is_new = store.upsert_article(
                            f.realpath, article, f.size, f.mtime_ns, digest
                        )
                        ids.append(article_id)
                        if is_new:
                            report.new_ids.append(article_id)
                        known = states.get(f.realpath)
                        (report.added if is_new or (known and known[3]) else report.updated).append(
                            f.path
                        )
                    if first:
                        for real in removed:
                            article_id = store.mark_removed(real)
                            if article_id is not None:
                                ids.append(article_id)
                                report.removed.append(_display(store, article_id, real))
                first = False
                rows += self.index.replace_articles(writer, ids, self._index_rows(ids))
                pending += ids
                if rows >= INDEX_COMMIT_PASSAGES:
                    self._commit_index(writer, pending)
                    pending, rows = [], 0
            if writer is not None:
                self._commit_index(writer, pending)
                writer.wait_merging_threads()
        except BaseException:
            if writer is not None:
                self.index.rollback(writer)
            raise


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
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(ARTICLE_SUFFIXES):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError as exc:
                report.skipped.append((path, f"cannot read: {exc.strerror or exc}"))
                continue
            if not os.path.isfile(path):
                report.skipped.append((path, "not a regular file"))
                continue
            yield _File(os.path.normpath(path), os.path.realpath(path), st.st_size, st.st_mtime_ns)
