"""Exactly-once digest delivery on a real SQLite file, with a recording fake poster.

A crash is simulated in-process by a ``BaseException`` that no handler catches (the run dies
where it stands, leaving the ledger as a killed process would); the real ``kill -9`` is
``benchmarks/crash_digest.py``, smoke-run at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from conftest import add_article, all_at_once

from bot.digest.delivery import (
    ChannelNotFound,
    HistoryUnavailable,
    NotInChannel,
    PostInDoubt,
    RateLimited,
    SlackUnavailable,
    deliver_digest,
    digest_marker,
    post_digest_now,
    preview_digest,
)
from bot.digest.ledger import Ledger
from bot.models import Article
from bot.settings import Settings
from bot.store import Store

REPO = Path(__file__).resolve().parent.parent
DAY = date(2024, 3, 11)
T0 = datetime(2024, 3, 11, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(any_store):
    """Every delivery test runs on SQLite and on PostgreSQL."""
    return any_store


class Crash(BaseException):
    """The process dies here (nothing catches a BaseException on the way out)."""


@dataclass(frozen=True)
class FakeDigest:
    digest_date: date
    since: datetime
    until: datetime
    stories: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    channel: str
    marker: str
    content: FakeDigest
    ts: str


class FakeSlack:
    """Records every accepted post; ``script`` scripts what the next posts do."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.script: list[object] = []
        self.lookups: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.delay = 0.0

    def _accept(self, channel: str, content: FakeDigest, marker: str) -> str:
        with self.lock:
            ts = f"{1700000000 + len(self.messages)}.000100"
            self.messages.append(Message(channel, marker, content, ts))
            return ts

    def post(self, channel: str, content: FakeDigest, marker: str) -> str:
        action = self.script.pop(0) if self.script else "ok"
        if isinstance(action, BaseException):
            raise action
        if self.delay:
            time.sleep(self.delay)
        ts = self._accept(channel, content, marker)
        if action == "accept-then-crash":
            raise Crash()
        if action == "accept-then-timeout":
            raise PostInDoubt("read timed out")
        return ts

    def find_existing(self, channel: str, marker: str) -> str | None:
        self.lookups.append((channel, marker))
        found = [m.ts for m in self.messages if m.channel == channel and m.marker == marker]
        return found[0] if found else None

    def posts_to(self, channel: str, day: date) -> list[Message]:
        marker = digest_marker(channel, day)
        return [m for m in self.messages if m.channel == channel and m.marker == marker]


def make_build(store: Store):
    def build(since: datetime, until: datetime, digest_date: date) -> FakeDigest:
        titles = tuple(a.title for a in store.articles(seen_since=since, seen_until=until))
        return FakeDigest(digest_date, since, until, titles)

    return build


@pytest.fixture
def slack():
    return FakeSlack()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def deliver(store, slack, day=DAY, *, find=True, skip_empty=False, **kw):
    return deliver_digest(
        store,
        "C111",
        day,
        make_build(store),
        slack.post,
        now=datetime.now(UTC),
        lookback_hours=24,
        skip_empty=skip_empty,
        find_existing=slack.find_existing if find else None,
        **kw,
    )


def test_delivers_once_and_the_next_digest_covers_what_came_since(store, slack, clock):
    clock.move_to(T0 - timedelta(hours=30))
    add_article(store, "too-old")
    clock.move_to(T0 - timedelta(hours=2))
    add_article(store, "first")
    clock.move_to(T0)
    result = deliver(store, slack)
    assert result.status == "sent" and result.ts == slack.messages[0].ts
    assert slack.messages[0].content.stories == ("first",)  # lookback 24 h on the first digest
    assert result.covers_from == T0 - timedelta(hours=24) and result.covers_to == T0

    for _ in range(3):  # a retry, a second process, a restart: all see it sent
        clock.shift(timedelta(minutes=5))
        again = deliver(store, slack)
        assert again.status == "already_sent" and again.ts == result.ts
    assert len(slack.messages) == 1

    add_article(store, "second")
    clock.move_to(T0 + timedelta(days=1))
    nxt = deliver(store, slack, DAY + timedelta(days=1))
    assert nxt.status == "sent"
    assert nxt.covers_from == result.covers_to
    assert [m.content.stories for m in slack.messages] == [("first",), ("second",)]


def test_quiet_day_posts_nothing_new_or_nothing(store, slack, clock):
    loud = deliver(store, slack)
    assert loud.status == "sent" and slack.messages[0].content.stories == ()

    clock.shift(timedelta(days=1))
    quiet = deliver(store, slack, DAY + timedelta(days=1), skip_empty=True)
    assert quiet.status == "empty" and quiet.delivered
    assert len(slack.messages) == 1
    row = Ledger(store).get("C111", DAY + timedelta(days=1))
    assert row.status == "sent" and row.ts is None and row.covers_to == datetime.now(UTC)
    clock.shift(timedelta(minutes=5))
    assert deliver(store, slack, DAY + timedelta(days=1), skip_empty=True).status == (
        "already_sent"
    )


@pytest.mark.parametrize(
    ("error", "wait", "log_says"),
    [
        (NotInChannel("not_in_channel"), timedelta(minutes=1), "/invite @newsbot"),
        (ChannelNotFound("channel_not_found"), timedelta(minutes=1), "check DIGEST_CHANNEL"),
        (RateLimited("ratelimited", retry_after=30), timedelta(seconds=30), "rate limited"),
        (SlackUnavailable("HTTP 503"), timedelta(minutes=1), "Slack is unavailable"),
    ],
)
def test_slack_error_is_not_sent_then_retried_and_sent_once(
    store, slack, clock, caplog, error, wait, log_says
):
    slack.script = [error]
    first = deliver(store, slack)
    assert first.status == "failed" and not first.delivered
    assert first.describe().startswith("C111 2024-03-11: failed: ")
    assert slack.messages == []
    assert log_says in caplog.text and "C111" in caplog.text and "will retry" in caplog.text
    row = Ledger(store).get("C111", DAY)
    assert row.status == "failed" and row.attempts == 1 and not row.in_doubt

    clock.shift(wait - timedelta(seconds=1))
    assert deliver(store, slack).status == "waiting"  # backoff still running
    assert slack.messages == []

    clock.shift(timedelta(seconds=1))
    second = deliver(store, slack)
    assert second.status == "sent" and second.attempts == 2
    assert second.describe() == f"C111 2024-03-11: sent (ts {second.ts})"
    assert len(slack.posts_to("C111", DAY)) == 1
    assert slack.lookups == []  # a clean error answer is not in doubt: no history lookup needed
    clock.shift(timedelta(hours=1))
    assert deliver(store, slack).status == "already_sent"
    assert len(slack.messages) == 1


def test_crash_between_claim_and_post_is_posted_by_the_next_run(store, slack, clock):
    add_article(store, "news")

    def dying_build(since, until, day):
        raise Crash()

    with pytest.raises(Crash):
        deliver_digest(
            store, "C111", DAY, dying_build, slack.post, now=T0, find_existing=slack.find_existing
        )
    assert Ledger(store).get("C111", DAY).status == "claimed"
    assert deliver(store, slack).status == "busy"  # the lease still runs: hands off
    clock.shift(timedelta(minutes=11))
    result = deliver(store, slack)
    assert result.status == "sent" and result.attempts == 2  # a refused claim is no attempt
    assert slack.lookups == []  # nothing had left: no doubt
    assert [m.content.stories for m in slack.posts_to("C111", DAY)] == [("news",)]


def test_crash_after_slack_accepted_is_found_not_reposted(store, slack, clock):
    add_article(store, "news")
    slack.script = ["accept-then-crash"]
    with pytest.raises(Crash):
        deliver(store, slack)
    posted = slack.messages[0]
    clock.shift(timedelta(minutes=11))
    result = deliver(store, slack)
    assert result.status == "recovered" and result.ts == posted.ts
    assert slack.lookups == [("C111", digest_marker("C111", DAY))]
    assert len(slack.messages) == 1
    row = Ledger(store).get("C111", DAY)
    assert row.status == "sent" and row.ts == posted.ts and row.covers_to == T0
    # The next digest starts where the recovered one ended.
    clock.shift(timedelta(days=1))
    assert deliver(store, slack, DAY + timedelta(days=1)).covers_from == T0


def test_crash_mid_post_before_slack_accepted_is_posted_once(store, slack, clock):
    slack.script = [Crash()]
    with pytest.raises(Crash):
        deliver(store, slack)
    assert slack.messages == []
    clock.shift(timedelta(minutes=11))
    result = deliver(store, slack)
    assert result.status == "sent" and len(slack.lookups) == 1
    assert len(slack.messages) == 1


@pytest.mark.parametrize("landed", [True, False])
def test_timeout_is_checked_before_any_repost(store, slack, clock, landed):
    slack.script = ["accept-then-timeout" if landed else PostInDoubt("connect timeout")]
    assert deliver(store, slack).status == "failed"
    assert Ledger(store).get("C111", DAY).in_doubt
    clock.shift(timedelta(minutes=1))
    result = deliver(store, slack)
    assert result.status == ("recovered" if landed else "sent")
    assert len(slack.messages) == 1 and len(slack.lookups) == 1


def test_unknown_post_error_counts_as_in_doubt(store, slack, clock, caplog):
    slack.script = [OSError("connection reset by peer")]
    assert deliver(store, slack).status == "failed"
    assert "connection reset" in caplog.text
    assert Ledger(store).get("C111", DAY).in_doubt
    clock.shift(timedelta(minutes=1))
    assert deliver(store, slack).status == "sent"
    assert len(slack.lookups) == 1 and len(slack.messages) == 1


def test_in_doubt_without_history_is_held_until_released(store, slack, clock, caplog, tmp_path):
    slack.script = ["accept-then-crash"]
    with pytest.raises(Crash):
        deliver(store, slack, find=False)
    clock.shift(timedelta(minutes=11))
    held = deliver(store, slack, find=False)
    assert held.status == "held" and len(slack.messages) == 1
    assert "not re-posting" in caplog.text and "--resend" in caplog.text
    # Still held later: never re-posted blindly.
    clock.shift(timedelta(hours=1))
    assert deliver(store, slack, find=False).status == "held"
    assert len(slack.messages) == 1
    # The operator looked, and (say) deleted the half-posted one: release and post again.
    settings = Settings(digest_channels=("C111",), digest_timezone="UTC", db_path=tmp_path / "x")
    results = post_digest_now(settings, store, make_build(store), slack.post, resend=True)
    assert [r.status for r in results] == ["sent"]
    assert len(slack.messages) == 2


def test_history_lookup_failure_holds_and_retries(store, slack, clock):
    slack.script = ["accept-then-timeout"]
    deliver(store, slack)
    clock.shift(timedelta(minutes=1))

    def broken_lookup(channel, marker):
        raise RuntimeError("missing_scope")

    result = deliver_digest(
        store, "C111", DAY, make_build(store), slack.post, now=T0, find_existing=broken_lookup
    )
    assert result.status == "held" and "missing_scope" in (result.error or "")
    clock.shift(timedelta(minutes=5))
    assert deliver(store, slack).status == "recovered"
    assert len(slack.messages) == 1


def test_threads_racing_post_exactly_once(tmp_path, slack):
    db = tmp_path / "race.db"
    Store.open(db).close()
    slack.delay = 0.05
    stores = [Store.open(db) for _ in range(6)]

    def run(s: Store) -> list[str]:
        # each thread also retries, like the retry job would
        return [deliver(s, slack).status for _ in range(3)]

    statuses = [status for part in all_at_once(run, stores) for status in part]
    for s in stores:
        s.close()
    assert statuses.count("sent") == 1
    assert set(statuses) <= {"sent", "busy", "already_sent"}
    assert len(slack.messages) == 1


def test_two_processes_on_one_database_post_exactly_once(tmp_path):
    db, channel_file = tmp_path / "two.db", tmp_path / "channel.jsonl"
    Store.open(db).close()
    start_at = time.time() + 1.5
    cmd = [
        sys.executable, "-m", "benchmarks.crash_digest", "race", "--db", str(db),
        "--channel-file", str(channel_file), "--date", DAY.isoformat(),
        "--channel-ids", "C111,C222", "--post-ms", "200", "--lease", "30",
        "--start-at", str(start_at),
    ]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    statuses = [json.loads(o[0].splitlines()[-1])["statuses"] for o in outs]
    per_channel = list(zip(*statuses, strict=True))
    for channel_statuses in per_channel:
        assert channel_statuses.count("sent") == 1, statuses
    lines = [json.loads(x) for x in channel_file.read_text().splitlines()]
    assert sorted(m["channel"] for m in lines) == ["C111", "C222"]
    conn = Store.open(db)
    assert {r.status for r in Ledger(conn).rows()} == {"sent"}
    conn.close()


def test_preview_touches_no_ledger_and_post_now_goes_through_it(store, slack, clock, tmp_path):
    settings = Settings(
        digest_channels=("C111", "C222"), digest_timezone="America/New_York", db_path=tmp_path
    )
    clock.move_to(T0 - timedelta(hours=1))
    add_article(store, "news")
    clock.move_to(T0)
    build = make_build(store)
    preview = preview_digest(settings, store, build)
    assert preview.content.stories == ("news",)
    assert preview.digest_date == date(2024, 3, 11)  # 12:00 UTC is 08:00 in New York
    assert preview.since == T0 - timedelta(hours=24)
    assert Ledger(store).rows() == []

    results = post_digest_now(settings, store, build, slack.post, find_existing=slack.find_existing)
    assert [r.status for r in results] == ["sent", "sent"]
    assert [r.status for r in post_digest_now(settings, store, build, slack.post)] == [
        "already_sent",
        "already_sent",
    ]
    assert len(slack.messages) == 2
    # Late evening in New York is already the next day in UTC; the digest date follows New York.
    clock.move_to(datetime(2024, 3, 12, 3, 0, tzinfo=UTC))
    assert preview_digest(settings, store, build).digest_date == date(2024, 3, 11)
    assert preview_digest(settings, store, build).since == T0


def test_post_now_skips_the_backoff(store, slack, clock, tmp_path):
    settings = Settings(digest_channels=("C111",), digest_timezone="UTC", db_path=tmp_path)
    slack.script = [NotInChannel("not_in_channel")]
    assert deliver(store, slack).status == "failed"
    assert deliver(store, slack).status == "waiting"
    # the operator invited the bot and runs `newsbot digest --post`
    assert [r.status for r in post_digest_now(settings, store, make_build(store), slack.post)] == [
        "sent"
    ]


def test_crash_script_smoke(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.crash_digest", "--runs", "4", "--seed", "7",
         "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "messages posted 8, expected 8; runs with a problem: 0" in out.stdout
    assert "where the kill landed" in out.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_article_being_ingested_during_the_digest_is_not_lost(tmp_path, slack, backend, request):
    """An ingest transaction stamps first_seen before the digest's ``until`` but commits after
    the digest started: the claim waits for it, so the article is in this digest, not lost."""
    db = tmp_path / "ingest.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store, ingest = Store.open(db), Store.open(db)
    stamped, release = threading.Event(), threading.Event()

    def slow_ingest() -> None:
        with ingest.transaction():
            ingest.upsert_article("/a/late.txt", Article("/a/late.txt", "late", ("x.",)), 1, 1, "l")
            stamped.set()
            release.wait(5)

    writer = threading.Thread(target=slow_ingest)
    writer.start()
    assert stamped.wait(5)
    threading.Timer(0.3, release.set).start()
    result = deliver(store, slack)  # now = after the stamp; the claim waits for the commit
    writer.join()
    assert result.status == "sent"
    assert slack.messages[0].content.stories == ("late",)
    store.close()
    ingest.close()


def test_without_the_history_scopes_an_in_doubt_digest_is_held_for_resend(
    store, slack, clock, tmp_path
):
    """channels:history / groups:history are optional: without them nothing is re-posted blindly
    nor retried every few minutes; the operator checks and releases it with --resend."""
    slack.script = ["accept-then-timeout"]
    deliver(store, slack)

    def no_scope(channel, marker):
        raise HistoryUnavailable("the channel history cannot be read without channels:history")

    clock.shift(timedelta(minutes=1))
    held = deliver_digest(
        store, "C111", DAY, make_build(store), slack.post, now=T0, find_existing=no_scope
    )
    assert held.status == "held" and "--resend" in (held.error or "")
    clock.shift(timedelta(hours=1))
    assert deliver(store, slack).status == "waiting"  # held, not retried within the hour
    settings = Settings(digest_channels=("C111",), digest_timezone="UTC", db_path=tmp_path / "x")
    results = post_digest_now(settings, store, make_build(store), slack.post, resend=True)
    assert [r.status for r in results] == ["sent"] and len(slack.messages) == 2
