"""When the digest runs: APScheduler 3 cron in DIGEST_TIMEZONE, catch-up, retries, rescans.

Three kinds of job, none of which can post twice (the ledger decides, see ``bot.digest.delivery``):

- ``digest``: a cron trigger at DIGEST_TIME on DIGEST_DAYS in the digest time zone, with a misfire
  grace of hours (APScheduler's default of 1 second would silently skip a late digest) and
  ``coalesce``/``max_instances=1``.
- ``digest-retry``: every few minutes, and once right at start-up (the catch-up), delivers the
  due digest if it is not delivered yet: a restart after the digest time, a failed post, a
  cron run that fell in a DST gap.
- ``rescan``: every NEWSBOT_RESCAN_MINUTES, the injected ``rescan()``.

The pure functions :func:`next_digest_time` and :func:`is_due` say when; they agree with the cron
trigger, including across daylight-saving changes (a time in the spring gap fires an hour later
in local time; on the autumn fold the first occurrence counts and the repeat is a no-op).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.changes import PRUNE_EVERY
from bot.logs import log_context

log = logging.getLogger("newsbot.schedule")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MISFIRE_GRACE = timedelta(hours=6)
RETRY_MINUTES = 5

RunDigest = Callable[[date], object]


def digest_weekdays(days: str) -> frozenset[int]:
    """'mon-fri', 'mon,wed,fri', 'fri-mon' (wraps) or '*' -> weekday numbers (Monday = 0)."""
    spec = days.strip().lower().replace(" ", "")
    if spec in ("*", ""):
        return frozenset(range(7))
    out: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"DIGEST_DAYS: {part!r} is not a day or a day range like mon-fri")
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(out)


def _tz(settings: Any) -> Any:
    return settings.tz


def scheduled_at(settings: Any, day: date) -> datetime:
    """The instant of ``day``'s digest (aware, digest time zone, first occurrence on a fold).

    A local time that does not exist (spring gap) maps as APScheduler's cron does: to the
    instant it would have had before the change, i.e. an hour later on the wall clock.
    """
    local = datetime.combine(day, settings.digest_time, tzinfo=_tz(settings))
    return local.astimezone(UTC).astimezone(_tz(settings))


def next_digest_time(settings: Any, after: datetime) -> datetime:
    """The first digest time strictly after ``after`` (aware, in the digest time zone)."""
    weekdays = digest_weekdays(settings.digest_days)
    day = after.astimezone(_tz(settings)).date() - timedelta(days=1)
    for _ in range(16):
        if day.weekday() in weekdays:
            at = scheduled_at(settings, day)
            if at > after:
                return at
        day += timedelta(days=1)
    raise ValueError(f"DIGEST_DAYS={settings.digest_days!r} selects no day")


def is_due(settings: Any, now: datetime, *, grace: timedelta = MISFIRE_GRACE) -> date | None:
    """The digest date that should have been delivered by ``now``, or None.

    That is the latest scheduled digest at or before ``now`` if it is today's (local date in
    the digest time zone), or if it is less than ``grace`` old (a late run just after midnight).
    An older missed digest is not posted late: the next one covers what it would have.
    """
    tz = _tz(settings)
    today = now.astimezone(tz).date()
    weekdays = digest_weekdays(settings.digest_days)
    for back in range(2):
        day = today - timedelta(days=back)
        if day.weekday() not in weekdays:
            continue
        at = scheduled_at(settings, day)
        if at <= now and (day == today or now - at <= grace):
            return day
    return None


def digest_trigger(settings: Any) -> CronTrigger:
    days = ",".join(DAYS[d] for d in sorted(digest_weekdays(settings.digest_days)))
    t: time = settings.digest_time
    return CronTrigger(day_of_week=days, hour=t.hour, minute=t.minute, timezone=_tz(settings))


class DigestJobs:
    """The job bodies, shared by the scheduler and tests. One digest run at a time."""

    def __init__(
        self,
        settings: Any,
        run_digest: RunDigest,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.run_digest = run_digest
        self.clock = clock
        self._lock = threading.Lock()
        self._periodic_ran = False

    def run_due(self, reason: str) -> date | None:
        """Run the due digest, if any; returns its date. Skips if a run is already going."""
        now = self.clock()
        due = is_due(self.settings, now)
        if due is None:
            log.debug("digest %s: nothing due at %s", reason, now)
            return None
        if not self._lock.acquire(blocking=False):
            log.info("digest %s: a digest run is already in progress; skipping", reason)
            return None
        try:
            with log_context("job", f"digest-{reason}:{due.isoformat()}"):
                log.info("digest %s: running the digest of %s", reason, due)
                try:
                    self.run_digest(due)
                except Exception:
                    log.exception(
                        "digest %s: the digest run of %s failed; it will be retried", reason, due
                    )
        finally:
            self._lock.release()
        return due

    def on_schedule(self) -> date | None:
        return self.run_due("schedule")

    def retry(self) -> date | None:
        return self.run_due("retry")

    def catch_up(self) -> date | None:
        return self.run_due("catch-up")

    def periodic(self) -> date | None:
        """The interval job: its first run (at start-up) is the catch-up, later ones retries."""
        first, self._periodic_ran = not self._periodic_ran, True
        return self.catch_up() if first else self.retry()


def _safe(name: str, fn: Callable[[], object]) -> Callable[[], None]:
    def job() -> None:
        with log_context("job", name):
            try:
                fn()
            except Exception:
                log.exception("%s job failed; it runs again at its next time", name)

    return job


def start_scheduler(
    settings: Any,
    run_digest: RunDigest,
    rescan: Callable[[], object] | None = None,
    *,
    retry_minutes: int = RETRY_MINUTES,
    catch_up: bool = True,
    always: bool = False,
    prune: Callable[[], object] | None = None,
    prune_every: timedelta = PRUNE_EVERY,
) -> BackgroundScheduler:
    """Start the background scheduler. ``run_digest(digest_date)`` delivers to every channel.

    ``always`` schedules the digest without a DIGEST_CHANNEL (desk channels stored in the
    database may subscribe at any time). ``prune`` trims the change log every ``prune_every``,
    the first time right away."""
    scheduler = BackgroundScheduler(
        timezone=_tz(settings),
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
        },
    )
    if settings.digest_channels or always:
        jobs = DigestJobs(settings, run_digest)
        scheduler.add_job(
            jobs.on_schedule, digest_trigger(settings), id="digest", name="daily digest"
        )
        # One interval job, not a separate one-off: a one-off job removed while the scheduler
        # shuts down raises JobLookupError in APScheduler's thread. Its first run, right away
        # when ``catch_up``, catches up a digest missed while the bot was down.
        retry_kwargs = {"next_run_time": datetime.now(_tz(settings))} if catch_up else {}
        scheduler.add_job(
            jobs.periodic if catch_up else jobs.retry,
            IntervalTrigger(minutes=retry_minutes, timezone=_tz(settings)),
            id="digest-retry",
            name="digest retry and catch-up",
            misfire_grace_time=retry_minutes * 60,
            **retry_kwargs,
        )
        log.info(
            "digest scheduled %s at %s %s to %s; next %s",
            settings.digest_days,
            settings.digest_time.strftime("%H:%M"),
            settings.digest_timezone,
            ", ".join(settings.digest_channels) or "the desk channels",
            next_digest_time(settings, datetime.now(UTC)).isoformat(),
        )
    else:
        log.info("no DIGEST_CHANNEL set: the digest is not scheduled")
    if rescan is not None and settings.rescan_minutes > 0:
        scheduler.add_job(
            _safe("rescan", rescan),
            IntervalTrigger(minutes=settings.rescan_minutes, timezone=_tz(settings)),
            id="rescan",
            name="rescan the articles folder",
            misfire_grace_time=settings.rescan_minutes * 60,
        )
    if prune is not None:
        scheduler.add_job(
            _safe("prune", prune),
            IntervalTrigger(seconds=prune_every.total_seconds(), timezone=_tz(settings)),
            id="prune-changes",
            name="prune the change log",
            next_run_time=datetime.now(_tz(settings)),
            misfire_grace_time=int(prune_every.total_seconds()),
        )
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler, *, wait: bool = True) -> None:
    """Stop taking new jobs; with ``wait``, let a running digest finish (the ledger copes)."""
    if scheduler.running:
        scheduler.shutdown(wait=wait)
