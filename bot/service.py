"""The composition root: builds the service (store, archive, Slack client, scheduler) from the
settings, for every command. Adapters get an :class:`~bot.archive.Archive` from here and reach
the core only through it.

``serve`` runs one of three roles:

- ``all`` (default): today's single process: Slack, the scheduler (if it wins the election) and
  the articles-folder rescans.
- ``web``: answers Slack only. Any number, on any hosts; each follows the change log into its own
  search index and answers ``GET /readyz`` once it has caught up.
- ``scheduler``: the digest schedule and the rescans. Several may run; one is active.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:  # imported when used: `newsbot --help` and one-line errors stay quick
    from bot.archive import Archive
    from bot.digest.build import Digest
    from bot.digest.delivery import DeliveryResult, DigestPreview
    from bot.slack.digest_post import SlackDigestPoster

log = logging.getLogger("newsbot.service")

ROLES = ("all", "web", "scheduler")
FOLLOW_SECONDS = 1.0  # how often a worker looks for changes made elsewhere (goal: 5 s)


class ServiceError(Exception):
    """Something the operator must fix, said in one line."""


def open_archive(settings: Settings, *, catch_up: bool = True) -> Archive:
    """The archive over the configured store and this process's index, with one-line errors."""
    from bot.archive import Archive
    from bot.index import IndexBusy

    try:
        return Archive.open(settings, catch_up=catch_up)
    except IndexBusy as exc:
        raise ServiceError(str(exc)) from exc
    except PermissionError as exc:
        raise ServiceError(
            f"no write access to {exc.filename or settings.index_path} (the search index"
            f" {settings.index_path} and the database folder must be writable by this user;"
            " or set NEWSBOT_INDEX_DIR / --db to a writable place)"
        ) from exc
    except OSError as exc:
        if exc.errno == 30:  # EROFS
            raise ServiceError(
                f"{exc.filename or settings.index_path} is on a read-only file system: set"
                " NEWSBOT_INDEX_DIR (and --db) to a writable place"
            ) from exc
        raise ServiceError(
            f"cannot open the archive at {settings.database_label}: {exc.strerror or exc}"
        ) from exc


def migrate_store(source: str, target: str) -> dict[str, int]:
    """``newsbot migrate-store``: copy one database into another (``bot.store.copy``); returns
    the rows copied per table."""
    from pathlib import Path

    from bot.store import describe, is_url, open_store
    from bot.store.copy import copy_store

    if not is_url(source) and not Path(source).is_file():
        raise ServiceError(f"--from {source}: no such database file")
    if describe(source) == describe(target):
        raise ServiceError("--from and --to are the same database")
    src = open_store(source)
    try:
        dst = open_store(target)
        try:
            return copy_store(src, dst)
        finally:
            dst.close()
    finally:
        src.close()


class Service:
    def __init__(self, settings: Settings, archive: Archive) -> None:
        self.settings = settings
        self.archive = archive
        self._poster: SlackDigestPoster | None = None

    @classmethod
    def open(cls, settings: Settings, *, catch_up: bool = True) -> Service:
        return cls(settings, open_archive(settings, catch_up=catch_up))

    def close(self) -> None:
        self.archive.close()

    # -- the digest ------------------------------------------------------------------------------
    def digest_builder(
        self, *, all_stories: bool = False
    ) -> Callable[[datetime, datetime, date], Digest]:
        """``build(since, until, day)``: the top stories (all of them with ``all_stories``)."""
        from bot.digest.build import DIGEST_STORIES

        limit = None if all_stories else DIGEST_STORIES
        return lambda since, until, day: self.archive.digest(since, until, day, max_stories=limit)

    def build_digest(self, since: datetime, until: datetime, day: date) -> Digest:
        return self.digest_builder()(since, until, day)

    @property
    def poster(self) -> SlackDigestPoster:
        if self._poster is None:
            from bot.slack.app import make_client
            from bot.slack.digest_post import SlackDigestPoster

            self._poster = SlackDigestPoster(make_client(self.settings))
        return self._poster

    def run_digest(self, day: date) -> list[DeliveryResult]:
        """The scheduled digest of ``day`` to every channel, through the ledger."""
        self.archive.refresh_if_stale()
        return self.deliver_desks(day, self.poster.post, self.poster.find_existing)

    def deliver_desks(
        self,
        day: date,
        post: Callable[..., str],
        find_existing: Callable[[str, str], str | None] | None = None,
    ) -> list[DeliveryResult]:
        """Deliver ``day``'s digest to every DIGEST_CHANNEL and every desk channel stored with
        ``/news digest here``, each with its own stories (a desk's query filters them), each at
        most once (the ledger)."""
        from bot.digest.delivery import deliver_all
        from bot.digest.desks import digest_targets

        archive = self.archive
        results: list[DeliveryResult] = []
        for channel, build in digest_targets(
            self.settings.digest_channels, archive.desks(), archive.store, archive.match_articles
        ):
            results += deliver_all(
                self.settings,
                archive.store,
                day,
                build,
                post,
                channels=[channel],
                find_existing=find_existing,
            )
        return results

    def preview_digest(
        self, now: datetime | None = None, *, all_stories: bool = False
    ) -> DigestPreview:
        """The next digest as it would be posted now (nothing posted, the ledger untouched)."""
        from bot.digest.build import DIGEST_STORIES

        limit = None if all_stories else DIGEST_STORIES
        return self.archive.preview_digest(now=now, max_stories=limit)

    def post_digest_now(self, *, resend: bool = False) -> list[DeliveryResult]:
        """``newsbot digest --post``: today's digest now to every channel the schedule covers
        (DIGEST_CHANNEL and the desks, each with its own stories), through the same ledger."""
        from bot.digest.delivery import post_digest_now
        from bot.digest.desks import digest_targets

        archive = self.archive
        results: list[DeliveryResult] = []
        for channel, build in digest_targets(
            self.settings.digest_channels, archive.desks(), archive.store, archive.match_articles
        ):
            results += post_digest_now(
                replace(self.settings, digest_channels=(channel,)),
                archive.store,
                build,
                self.poster.post,
                find_existing=self.poster.find_existing,
                resend=resend,
            )
        return results

    def has_digest_channels(self) -> bool:
        return bool(self.settings.digest_channels or self.archive.desks())

    def start_jobs(self) -> Callable[[], None]:
        """The active scheduler's work: rescan now, watch the articles folder, poll the feeds,
        run the digest and rescan schedule, and prune the change log. Returns what stops it all
        (stepping down)."""
        from bot.arrivals import start_arrivals
        from bot.schedule import start_scheduler, stop_scheduler

        try:
            self.archive.refresh_if_stale()
        except Exception as exc:
            log.error("rescan of the articles folder failed: %s", exc)
        arrivals = threading.Event()
        self.start_alerts(arrivals)
        start_arrivals(self.settings, self.archive, arrivals)
        # Always scheduled: a desk may subscribe with /news digest here at any time.
        scheduler = start_scheduler(
            self.settings,
            self.run_digest,
            self.archive.refresh_if_stale,
            always=True,
            prune=self.archive.prune_changes,
        )

        def stop() -> None:
            arrivals.set()
            stop_scheduler(scheduler)

        return stop

    def start_alerts(self, stop: threading.Event) -> None:
        """Follow alerts, on the active scheduler (the process that ingests): DMs for this
        process's ingests at once, and every 30 s for articles another process queued (for
        instance ``newsbot ingest``). Without a bot token there is no one to DM: not started."""
        if not self.settings.bot_token:
            log.info("no SLACK_BOT_TOKEN: follow alerts are not sent")
            return
        from bot.slack.alerts import AlertSender
        from bot.slack.app import make_client

        AlertSender(self.archive, make_client(self.settings)).start(stop)

    # -- serving ---------------------------------------------------------------------------------
    def serve(
        self,
        role: str = "all",
        port: int | None = None,
        *,
        stop: threading.Event | None = None,
        on_ready: Callable[[str], None] | None = None,
    ) -> int:
        from bot.election import SchedulerSeat, election_for
        from bot.slack.serve import install_signal_handlers, run_serve, wait_for_stop

        stop = stop or threading.Event()
        install_signal_handlers(stop)
        follower = threading.Thread(
            target=follow_changes, args=(self.archive, stop), name="newsbot-follow", daemon=True
        )
        follower.start()
        seat_thread = None
        if role in ("all", "scheduler"):
            seat = SchedulerSeat(
                election_for(self.settings.database),
                self.start_jobs,
                lambda: self.archive.store,
                announce=_say if role == "scheduler" else lambda line: log.info("%s", line),
            )
            seat_thread = threading.Thread(
                target=seat.run, args=(stop,), name="newsbot-scheduler", daemon=True
            )
            seat_thread.start()
        try:
            if role in ("all", "web"):
                return run_serve(self.settings, self.archive, port, stop=stop, on_ready=on_ready)
            (on_ready or _say)("newsbot: scheduler role started (no Slack listener); Ctrl-C stops")
            wait_for_stop(stop)
            return 0
        finally:
            stop.set()
            if seat_thread is not None:
                seat_thread.join(60)  # a digest in progress finishes first
            follower.join(10)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def follow_changes(archive: Archive, stop: threading.Event, every: float = FOLLOW_SECONDS) -> None:
    """Apply what other processes wrote to the store to this process's index, until ``stop``."""
    from bot.index import IndexBusy
    from bot.logs import redact

    failing = False
    while not stop.is_set():
        try:
            archive.catch_up(wait_seconds=2.0)
            if failing:
                log.warning("search index: following the database again")
            failing = False
        except IndexBusy:
            pass  # another process on this host is writing the shared index: next round
        except Exception as exc:
            if not failing:
                from bot.logs import redact

                log.error(
                    "search index: cannot follow the database (%s); retrying", redact(str(exc))
                )
            failing = True
        stop.wait(every)
