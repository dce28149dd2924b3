"""New articles arriving by themselves while the bot runs: feed polls and the folder watcher.

Both run as daemon threads beside the periodic rescan, which stays the fallback (network shares
often send no file-system events). Neither ever stops the bot: a failure is one log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.archive import ARTICLE_SUFFIXES, Archive
from bot.feeds import FeedFetch
from bot.models import IngestReport
from bot.settings import Settings

log = logging.getLogger("newsbot.arrivals")

WATCH_DEBOUNCE_MS = 800  # a file copied in pieces settles before it is read


def poll_feeds(archive: Archive, urls: Sequence[str]) -> list[tuple[str, FeedFetch | None]]:
    """Poll each feed once; one that fails is logged and never stops the others."""
    results: list[tuple[str, FeedFetch | None]] = []
    for url in urls:
        try:
            fetched, report = archive.ingest_feed(url)
        except Exception as exc:  # a store or index failure for this feed only
            log.warning("feed %s: not ingested (%s: %s)", url, type(exc).__name__, exc)
            results.append((url, None))
            continue
        _log_feed(url, fetched, report)
        results.append((url, fetched))
    return results


def _log_feed(url: str, fetched: FeedFetch, report: IngestReport) -> None:
    if fetched.status == "error":
        log.warning("feed %s: %s", url, fetched.message)
    elif report.changed:
        log.info("feed %s: %d added, %d updated", url, len(report.added), len(report.updated))
    else:
        log.debug("feed %s: %s", url, fetched.message)


def feed_poller(
    archive: Archive, urls: Sequence[str], minutes: int, stop: threading.Event
) -> threading.Thread:
    """A thread that polls the feeds now and then every ``minutes`` until ``stop`` is set."""

    def run() -> None:
        while not stop.is_set():
            poll_feeds(archive, urls)
            if stop.wait(max(1, minutes) * 60):
                return

    thread = threading.Thread(target=run, name="feed-poller", daemon=True)
    thread.start()
    return thread


def start_arrivals(settings: Settings, archive: Archive, stop: threading.Event) -> None:
    """Start the feed poller (when NEWSBOT_FEEDS is set) and the articles-folder watcher."""
    if settings.feeds:
        feed_poller(archive, settings.feeds, settings.feed_minutes, stop)
    if settings.articles_dir.is_dir():
        folder_watcher(archive, settings.articles_dir, stop)
    else:
        log.warning("articles folder %s does not exist: not watching it", settings.articles_dir)


def _is_article(change: tuple[object, str]) -> bool:
    name = Path(change[1]).name
    return not name.startswith(".") and name.lower().endswith(ARTICLE_SUFFIXES)


def folder_watcher(archive: Archive, folder: Path, stop: threading.Event) -> threading.Thread:
    """A thread that ingests the articles folder as soon as an article file in it changes."""
    from watchfiles import watch

    def run() -> None:
        try:
            for changes in watch(
                folder,
                watch_filter=lambda change, path: _is_article((change, path)),
                debounce=WATCH_DEBOUNCE_MS,
                stop_event=stop,
                raise_interrupt=False,
            ):
                try:
                    report = archive.ingest()
                except Exception as exc:
                    log.warning("articles folder changed but the ingest failed: %s", exc)
                    continue
                log.info(
                    "articles folder changed (%d files): %d added, %d updated, %d removed",
                    len(changes),
                    len(report.added),
                    len(report.updated),
                    len(report.removed),
                )
        except (OSError, RuntimeError) as exc:
            log.warning(
                "cannot watch %s (%s); new files are picked up by the periodic rescan",
                folder,
                exc,
            )

    thread = threading.Thread(target=run, name="folder-watcher", daemon=True)
    thread.start()
    return thread
