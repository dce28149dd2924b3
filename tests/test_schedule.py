"""When the digest runs: the cron trigger, catch-up and retries, driven through days with
time-machine, across weekends and daylight-saving changes, with the real ledger underneath."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import add_article

from bot.digest.delivery import NotInChannel, deliver_all, digest_marker
from bot.schedule import (
    DigestJobs,
    digest_trigger,
    digest_weekdays,
    is_due,
    next_digest_time,
    start_scheduler,
    stop_scheduler,
)
from bot.settings import Settings
from bot.store import Store

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def settings_for(tz: str, at: str = "08:00", days: str = "mon-fri", **kw) -> Settings:
    hh, mm = at.split(":")
    return Settings(
        digest_channels=kw.pop("channels", ("C111", "C222")),
        digest_time=dtime(int(hh), int(mm)),
        digest_timezone=tz,
        digest_days=days,
        **kw,
    )


@dataclass(frozen=True)
class Posted:
    channel: str
    marker: str
    stories: tuple[str, ...]
    at: datetime
    ts: str


class RecordingSlack:
    def __init__(self) -> None:
        self.posts: list[Posted] = []
        self.failures: dict[tuple[str, date], list[Exception]] = {}
        self.lock = threading.Lock()

    def post(self, channel: str, content, marker: str) -> str:
        queued = self.failures.get((channel, content.digest_date))
        if queued:
            raise queued.pop(0)
        with self.lock:
            ts = f"{1700000000 + len(self.posts)}.000200"
            self.posts.append(Posted(channel, marker, content.stories, datetime.now(UTC), ts))
            return ts

    def find_existing(self, channel: str, marker: str) -> str | None:
        return next((p.ts for p in self.posts if p.channel == channel and p.marker == marker), None)

    def per_day(self) -> Counter[tuple[str, str]]:
        return Counter((p.channel, p.marker.rsplit(":", 1)[1]) for p in self.posts)


@dataclass(frozen=True)
class Content:
    digest_date: date
    stories: tuple[str, ...]


def runner(settings: Settings, store: Store, slack: RecordingSlack):
    def build(since, until, digest_date):
        articles = store.articles(seen_since=since, seen_until=until)
        return Content(digest_date, tuple(a.title for a in articles))

    def run_digest(digest_date: date):
        return deliver_all(
            settings, store, digest_date, build, slack.post, find_existing=slack.find_existing
        )

    return run_digest


def simulate(settings, store, slack, start: datetime, end: datetime, *, new_article_every=6):
    """Move the clock from start to end firing what the scheduler would fire: the cron trigger
    (the real one) and the retry job every 5 minutes (offset 2 minutes), adding an article
    every few hours."""
    trigger = digest_trigger(settings)
    events: list[tuple[datetime, str]] = []
    prev, now = None, start
    while (fire := trigger.get_next_fire_time(prev, now)) is not None and fire <= end:
        events.append((fire.astimezone(UTC), "schedule"))
        prev = now = fire
    t = start.astimezone(UTC) + timedelta(minutes=2)
    while t <= end:
        events.append((t, "retry"))
        t += timedelta(minutes=5)
    events.sort()
    jobs = DigestJobs(settings, runner(settings, store, slack))
    n = 0
    with time_machine.travel(start, tick=False) as traveller:
        for at, kind in events:
            traveller.move_to(at)
            if kind == "retry" and at.minute == 2 and at.hour % new_article_every == 0:
                n += 1
                add_article(store, f"story-{n}")
            jobs.on_schedule() if kind == "schedule" else jobs.retry()
    return events


def assert_each_article_once_per_channel(slack: RecordingSlack, channels) -> None:
    for channel in channels:
        stories = [s for p in slack.posts if p.channel == channel for s in p.stories]
        assert len(stories) == len(set(stories)), f"an article in two digests of {channel}"


# -- pure functions ------------------------------------------------------------------------------


def test_digest_days_parse():
    assert digest_weekdays("mon-fri") == {0, 1, 2, 3, 4}
    assert digest_weekdays("*") == set(range(7))
    assert digest_weekdays("mon,wed,fri") == {0, 2, 4}
    assert digest_weekdays("fri-mon") == {4, 5, 6, 0}
    assert digest_weekdays("sat,sun") == {5, 6}
    with pytest.raises(ValueError, match="DIGEST_DAYS"):
        digest_weekdays("mon-funday")


@pytest.mark.parametrize(
    ("tz", "at", "days"),
    [
        ("America/New_York", "08:00", "mon-fri"),
        ("America/New_York", "02:30", "*"),  # in the spring gap
        ("Europe/London", "01:30", "*"),  # in the spring gap and on the autumn fold
        ("Australia/Lord_Howe", "02:15", "sat,sun"),  # a 30-minute DST shift
        ("Asia/Kolkata", "23:59", "fri-mon"),
    ],
)
def test_next_digest_time_agrees_with_the_cron_trigger_for_a_year(tz, at, days):
    settings = settings_for(tz, at, days)
    trigger = digest_trigger(settings)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=370)
    cron_firsts: dict[date, datetime] = {}
    prev, now = None, start
    while (fire := trigger.get_next_fire_time(prev, now)) <= end:
        cron_firsts.setdefault(fire.date(), fire)  # a fold fires twice: the first counts
        prev = now = fire
    ours = []
    t = start
    while (t := next_digest_time(settings, t)) <= end:
        ours.append(t)
    assert [t.astimezone(UTC) for t in ours] == [f.astimezone(UTC) for f in cron_firsts.values()]
    local = settings.digest_time
    for t in ours:
        assert t.tzinfo is not None and t.weekday() in digest_weekdays(days)
        # On the wall clock it is the digest time, unless that time does not exist that day
        # (spring gap): then it is later by the size of the gap.
        wall = datetime.combine(t.date(), local, tzinfo=t.tzinfo)
        exists = wall.astimezone(UTC).astimezone(t.tzinfo).time() == local
        assert (t.hour, t.minute) == (local.hour, local.minute) or (not exists and t > wall)


def test_next_digest_time_skips_the_weekend_and_crosses_dst():
    settings = settings_for("America/New_York")
    fri_evening = datetime(2024, 3, 8, 18, 0, tzinfo=NY)
    nxt = next_digest_time(settings, fri_evening)
    assert nxt == datetime(2024, 3, 11, 8, 0, tzinfo=NY)
    assert nxt.astimezone(UTC).hour == 12  # EDT; the Friday before was 13:00 UTC (EST)
    assert next_digest_time(settings, nxt) == datetime(2024, 3, 12, 8, 0, tzinfo=NY)
    # strictly after
    assert next_digest_time(settings, nxt - timedelta(microseconds=1)) == nxt


def test_is_due():
    settings = settings_for("America/New_York")
    assert is_due(settings, datetime(2024, 3, 11, 7, 59, tzinfo=NY)) is None
    assert is_due(settings, datetime(2024, 3, 11, 8, 0, tzinfo=NY)) == date(2024, 3, 11)
    assert is_due(settings, datetime(2024, 3, 11, 23, 59, tzinfo=NY)) == date(2024, 3, 11)
    assert is_due(settings, datetime(2024, 3, 9, 12, 0, tzinfo=NY)) is None  # Saturday
    assert is_due(settings, datetime(2024, 3, 10, 12, 0, tzinfo=NY)) is None  # Sunday
    # The date is the local one: 02:00 UTC on Tuesday is still Monday evening in New York.
    assert is_due(settings, datetime(2024, 3, 12, 2, 0, tzinfo=UTC)) == date(2024, 3, 11)
    late = settings_for("Europe/London", "23:30", "*")
    # A run just after midnight still delivers the digest of 23:30 (within the grace) ...
    assert is_due(late, datetime(2024, 6, 2, 0, 20, tzinfo=LONDON)) == date(2024, 6, 1)
    # ... but not the next afternoon: the next digest covers it.
    assert is_due(late, datetime(2024, 6, 2, 15, 0, tzinfo=LONDON)) is None


# -- moving the clock through days ---------------------------------------------------------------


def test_a_week_with_a_weekend_and_the_spring_dst_change(store):
    settings = settings_for("America/New_York")  # mon-fri 08:00; DST starts Sun 2024-03-10
    slack = RecordingSlack()
    # Monday's first post to C222 fails: the bot was not invited yet.
    slack.failures[("C222", date(2024, 3, 11))] = [NotInChannel("not_in_channel")]
    simulate(
        settings,
        store,
        slack,
        datetime(2024, 3, 7, 0, 0, tzinfo=NY),
        datetime(2024, 3, 13, 23, 59, tzinfo=NY),
    )
    weekdays = ["2024-03-07", "2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13"]
    expected = Counter({(c, d): 1 for c in ("C111", "C222") for d in weekdays})
    assert slack.per_day() == expected  # exactly one per channel per day, none at the weekend
    for p in slack.posts:
        local = p.at.astimezone(NY)
        if (p.channel, local.date()) == ("C222", date(2024, 3, 11)):
            # retried by the retry job minutes later, once
            assert local.hour == 8 and 0 < local.minute <= 15
        else:
            assert (local.hour, local.minute) == (8, 0), p  # on time, local time
    utc_hours = {p.at.astimezone(NY).date(): p.at.hour for p in slack.posts}
    assert utc_hours[date(2024, 3, 8)] == 13 and utc_hours[date(2024, 3, 11)] == 12
    assert_each_article_once_per_channel(slack, settings.digest_channels)
    # Monday's digest carries the weekend's stories.
    monday = next(p for p in slack.posts if p.channel == "C111" and "2024-03-11" in p.marker)
    assert len(monday.stories) >= 10


def test_autumn_fold_fires_twice_but_posts_once(store):
    # Europe/London falls back at 02:00 BST on 2024-10-27: 01:30 happens twice that night.
    settings = settings_for("Europe/London", "01:30", "*", channels=("C111",))
    slack = RecordingSlack()
    events = simulate(
        settings,
        store,
        slack,
        datetime(2024, 10, 26, 0, 0, tzinfo=LONDON),
        datetime(2024, 10, 28, 12, 0, tzinfo=LONDON),
    )
    fires = [at.astimezone(LONDON) for at, kind in events if kind == "schedule"]
    assert sum(f.date() == date(2024, 10, 27) for f in fires) == 2  # the cron fires twice
    assert slack.per_day() == Counter(
        {("C111", d): 1 for d in ("2024-10-26", "2024-10-27", "2024-10-28")}
    )
    fold_day = next(p for p in slack.posts if "2024-10-27" in p.marker)
    assert fold_day.at == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # the first 01:30 (BST)


def test_spring_gap_time_still_posts_once(store):
    # 02:30 does not exist in New York on 2024-03-10: it posts at 03:30 EDT, once.
    settings = settings_for("America/New_York", "02:30", "*", channels=("C111",))
    slack = RecordingSlack()
    simulate(
        settings,
        store,
        slack,
        datetime(2024, 3, 9, 0, 0, tzinfo=NY),
        datetime(2024, 3, 11, 12, 0, tzinfo=NY),
    )
    assert slack.per_day() == Counter(
        {("C111", d): 1 for d in ("2024-03-09", "2024-03-10", "2024-03-11")}
    )
    gap_day = next(p for p in slack.posts if "2024-03-10" in p.marker)
    assert gap_day.at == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_restart_after_the_digest_time_catches_up_once(store):
    settings = settings_for("Europe/London", "08:00", "mon-fri")
    slack = RecordingSlack()
    run = runner(settings, store, slack)
    with time_machine.travel(datetime(2024, 6, 3, 7, 0, tzinfo=LONDON), tick=False) as tm:
        assert DigestJobs(settings, run).catch_up() is None  # started before the digest time
        tm.move_to(datetime(2024, 6, 3, 10, 40, tzinfo=LONDON))  # down at 08:00, back at 10:40
        assert DigestJobs(settings, run).catch_up() == date(2024, 6, 3)
        assert slack.per_day() == Counter({("C111", "2024-06-03"): 1, ("C222", "2024-06-03"): 1})
        tm.move_to(datetime(2024, 6, 3, 10, 45, tzinfo=LONDON))  # restarted again
        DigestJobs(settings, run).catch_up()
        tm.move_to(datetime(2024, 6, 8, 10, 0, tzinfo=LONDON))  # a Saturday: nothing due
        assert DigestJobs(settings, run).catch_up() is None
    assert len(slack.posts) == 2


def test_a_failing_run_is_logged_and_does_not_stop_the_jobs(caplog):
    settings = settings_for("UTC", "00:00", "*")
    calls = []

    def broken(day):
        calls.append(day)
        raise RuntimeError("database is locked")

    jobs = DigestJobs(settings, broken)
    assert jobs.retry() is not None
    assert "database is locked" in caplog.text and "will be retried" in caplog.text
    assert jobs.retry() is not None and len(calls) == 2


# -- the real BackgroundScheduler ----------------------------------------------------------------


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_real_scheduler_jobs_catch_up_and_stop(tmp_path):
    # Due all day, every day: the start-up catch-up must post right away.
    settings = settings_for("UTC", "00:00", "*", rescan_minutes=7, db_path=tmp_path / "x.db")
    store = Store.open(settings.db_path)
    slack = RecordingSlack()
    inner = runner(settings, store, slack)
    runs: list[date] = []
    rescans: list[float] = []

    def run_digest(day: date):
        runs.append(day)
        return inner(day)

    scheduler = start_scheduler(settings, run_digest, lambda: rescans.append(time.time()))
    try:
        digest = scheduler.get_job("digest")
        assert digest.misfire_grace_time >= 3600 and digest.coalesce and digest.max_instances == 1
        assert str(digest.trigger.timezone) == "UTC"
        assert scheduler.get_job("digest-retry") is not None
        rescan = scheduler.get_job("rescan")
        assert rescan.trigger.interval == timedelta(minutes=7)
        assert wait_for(lambda: len(slack.posts) == 2)
        today = datetime.now(UTC).date().isoformat()
        assert slack.per_day() == Counter({("C111", today): 1, ("C222", today): 1})
        rescan.modify(next_run_time=datetime.now(UTC))
        assert wait_for(lambda: rescans)
    finally:
        started = time.monotonic()
        stop_scheduler(scheduler)
        assert time.monotonic() - started < 5
    assert not scheduler.running

    # A restart (a second scheduler on the same database): the catch-up runs, posts nothing.
    scheduler = start_scheduler(settings, run_digest, None)
    try:
        assert scheduler.get_job("rescan") is None
        assert wait_for(lambda: len(runs) == 2)
    finally:
        stop_scheduler(scheduler)
    assert len(slack.posts) == 2
    assert {p.marker for p in slack.posts} == {
        digest_marker(c, datetime.now(UTC).date()) for c in ("C111", "C222")
    }
    store.close()


def test_no_channel_means_no_digest_jobs():
    settings = settings_for("UTC", channels=())
    scheduler = start_scheduler(settings, lambda day: None, lambda: None)
    try:
        assert {j.id for j in scheduler.get_jobs()} == {"rescan"}
    finally:
        stop_scheduler(scheduler)
