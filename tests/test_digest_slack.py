"""The digest end to end: real archive and digest builder, real ledger, the real Slack poster
(``make_client``'s WebClient) against the fake Slack on loopback, real scheduler jobs.

Time moves with time-machine (ticking, so the network still works) where a retry must wait for
its backoff or a crashed run's lease must run out.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import pytest
import time_machine
from conftest import bot_settings, find_button
from fakeslack import BOT_ID, FakeSlack, iter_blocks_text
from test_slack_socket import assert_within_limits, text_of

from bot.archive import Archive
from bot.digest.build import build_digest
from bot.digest.delivery import (
    PostInDoubt,
    deliver_all,
    digest_date_for,
    digest_marker,
    post_digest_now,
)
from bot.digest.ledger import Ledger
from bot.schedule import DigestJobs, start_scheduler, stop_scheduler
from bot.slack.app import make_client
from bot.slack.digest_post import EVENT_TYPE, SlackDigestPoster
from bot.slack.listeners.commands import digest_preview
from bot.slack.views.blocks import FALLBACK_TEXT
from bot.slack.views.buttons import ACTION_DIGEST_PASSAGES

DESK = "C0DESK0001"
BARE = re.compile(r"&(?!amp;|lt;|gt;)")
HOSTILE = "<!channel> <@U123> & <http://x|y>"


class Rig:
    """The digest as ``newsbot serve`` and ``newsbot digest --post`` run it, against the fake."""

    def __init__(self, fake, archive, **settings) -> None:
        self.fake = fake
        self.archive = archive
        base = {"digest_channels": (DESK,), "digest_time": dtime(0, 0), "digest_days": "*"}
        self.settings = bot_settings(fake, **{**base, **settings})
        self.poster = SlackDigestPoster(make_client(self.settings))
        self.post = self.poster.post

    def build(self, since, until, day):
        return build_digest(self.archive.store, since, until, day)

    def today(self):
        return digest_date_for(self.settings, datetime.now(UTC))

    def run(self, day=None, **kw):
        """One digest run for every channel (what the scheduler's job does)."""
        return deliver_all(
            self.settings,
            self.archive.store,
            day or self.today(),
            self.build,
            self.post,
            find_existing=self.poster.find_existing,
            **kw,
        )

    def jobs(self) -> DigestJobs:
        return DigestJobs(self.settings, lambda day: self.run(day))

    def digests(self, channel: str = DESK) -> list[dict]:
        """Digest messages the channel holds (top level, with our metadata)."""
        return [
            m
            for m in self.fake.messages_in(channel)
            if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE
        ]

    def posts(self, channel: str = DESK) -> int:
        """chat.postMessage calls that reached the fake for ``channel`` (failed ones too)."""
        calls = self.fake.calls_to("chat.postMessage")
        return sum(1 for c in calls if c.params.get("channel") == channel)

    def row(self, day=None):
        return Ledger(self.archive.store.conn).get(DESK, day or self.today())


@pytest.fixture(autouse=True)
def _midday():
    """Each test starts at noon (UTC) today, the clock ticking: its ``later`` steps then cross
    a midnight only where the test means to, whatever the hour it runs at (from 23:50 a step
    of 10 minutes made the retry deliver the next day's digest)."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with time_machine.travel(noon, tick=True):
        yield


@pytest.fixture
def rig(fake_slack, archive) -> Rig:
    return Rig(fake_slack, archive)


def later(minutes: float):
    """Travel ``minutes`` ahead, clock still ticking (sockets and threads keep working)."""
    return time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes), tick=True)


def message_text(message: dict) -> str:
    return "\n".join([message.get("text", ""), *iter_blocks_text(message.get("blocks") or [])])


def write_articles(archive, count: int, *, seed: int = 7) -> None:
    """``count`` unrelated articles (made-up words, so each is its own story)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ren", "to", "vash", "qui", "dor", "ul", "sen", "bri", "zo"]

    def word() -> str:
        return "".join(rng.choice(syllables) for _ in range(rng.randint(3, 5)))

    folder = archive.settings.articles_dir
    for i in range(count):
        topic = [word() for _ in range(6)]
        title = f"{topic[0].title()} council backs {topic[1]} plan {i}"
        sentences = [
            f"The {topic[j % 6]} committee met {topic[(j + 1) % 6]} officials on day {j} of"
            f" the {topic[(j + 2) % 6]} talks about {topic[(j + 3) % 6]}."
            for j in range(12)
        ]
        paragraphs = [" ".join(sentences[k : k + 3]) for k in range(0, 12, 3)]
        (folder / f"bulk_{i:03d}.txt").write_text(
            title + "\n\n" + "\n\n".join(paragraphs) + "\n", "utf-8"
        )
    archive.ingest()


# -- posted once, within limits ------------------------------------------------------------------
def test_digest_is_posted_once_with_blocks_fallback_and_marker(rig):
    [result] = rig.run()
    assert result.status == "sent" and result.ts
    [message] = rig.digests()
    assert message["ts"] == result.ts and message["bot_id"] == BOT_ID
    assert message["metadata"]["event_payload"] == {"marker": digest_marker(DESK, rig.today())}
    assert_within_limits(message["blocks"])
    text = message_text(message)
    assert "France has withdrawn its last troops from Mali" in message["text"]
    assert f"Newsroom digest, {rig.today().day} {rig.today():%b %Y}" in text
    assert find_button(message["blocks"], ACTION_DIGEST_PASSAGES)
    call = rig.fake.calls_to("chat.postMessage")[0]
    assert call.params["unfurl_links"] is False

    assert [r.status for r in rig.run()] == ["already_sent"]
    again = post_digest_now(rig.settings, rig.archive.store, rig.build, rig.post)
    assert [r.status for r in again] == ["already_sent"]
    assert len(rig.digests()) == 1 and rig.posts() == 1


def test_real_scheduler_catches_up_once_and_a_restart_posts_nothing(rig):
    runs = []

    def run_digest(day):
        runs.append(day)
        return rig.run(day)

    for restart in range(2):
        scheduler = start_scheduler(rig.settings, run_digest)
        try:
            rig.fake.wait_until(lambda n=restart: len(runs) > n, timeout=20)
            # let APScheduler drop its one-off catch-up job first: a shutdown racing that
            # removal raises JobLookupError in its thread (see the report on bot/schedule.py)
            deadline = time.monotonic() + 5
            while scheduler.get_job("digest-catch-up") and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop_scheduler(scheduler)
    assert runs == [rig.today(), rig.today()]
    assert len(rig.digests()) == 1 and rig.posts() == 1
    assert rig.row().status == "sent"


def test_300_new_articles_stay_within_limits_and_say_how_many_more(rig, archive):
    write_articles(archive, 300)
    [result] = rig.run()
    assert result.status == "sent"
    [message] = rig.digests()
    blocks = message["blocks"]
    assert_within_limits(blocks)
    assert len(message["text"]) <= FALLBACK_TEXT
    content = rig.build(result.covers_from, result.covers_to, rig.today())
    total = len(content.stories) + content.more
    shown = sum(1 for b in blocks if "accessory" in b)
    assert total >= 250 and 0 < shown <= len(content.stories)
    assert f"and {total - shown} more stories" in message_text(message)


def test_hostile_article_text_is_shown_literally_and_pings_nobody(rig, archive):
    folder = archive.settings.articles_dir
    body = f"Hostile {HOSTILE} paragraph about the quokka parade. " * 3
    (folder / "hostile.txt").write_text(
        f"Quokka parade {HOSTILE}\n\n{body}\n\n{body}\n", encoding="utf-8"
    )
    archive.ingest()
    rig.run()
    [message] = rig.digests()
    raw = json.dumps(message["blocks"], ensure_ascii=False) + message["text"]
    for bad in ("<!channel>", "<@U123>", "<http://x|y>"):
        assert bad not in raw
    text = message_text(message)
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; &lt;http://x|y&gt;" in text
    assert not BARE.search(text)


def test_quiet_day_says_nothing_new_or_posts_nothing_when_asked(fake_slack, archive):
    rig = Rig(fake_slack, archive)
    first = rig.today()
    rig.run(first)
    next_day = first + timedelta(days=1)
    with later(24 * 60):
        [quiet] = rig.run(next_day)
    assert quiet.status == "sent"
    messages = rig.digests()
    assert len(messages) == 2 and "Nothing new" in message_text(messages[1])

    skipping = Rig(fake_slack, archive, digest_skip_empty=True)
    with later(48 * 60):
        [skipped] = skipping.run(next_day + timedelta(days=1))
    assert skipped.status == "empty" and len(rig.digests()) == 2


# -- Slack errors --------------------------------------------------------------------------------
def test_rate_limited_post_waits_for_retry_after_and_is_sent_once(rig):
    rig.fake.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    [result] = rig.run()
    assert result.status == "sent"
    assert time.monotonic() - started >= 0.9
    assert rig.posts() == 2 and len(rig.digests()) == 1


def test_rate_limit_that_outlasts_the_client_is_retried_after_retry_after(rig):
    rig.fake.rate_limit("chat.postMessage", retry_after=0, times=3)  # one try, two retries
    [failed] = rig.run()
    assert failed.status == "failed" and "rate limited" in failed.error
    assert rig.row().status == "failed" and not rig.digests()
    with later(2):
        assert rig.jobs().retry() == rig.today()
    assert len(rig.digests()) == 1 and rig.row().status == "sent"


def test_server_errors_leave_it_unsent_then_a_later_retry_sends_it_once(rig, caplog):
    rig.fake.server_error("chat.postMessage", status=503, times=3)  # the client tries 3 times
    [failed] = rig.run()
    assert failed.status == "failed" and not failed.delivered
    assert rig.row().status == "failed" and rig.row().sent_at is None
    assert not rig.digests() and rig.posts() == 3
    assert "Slack is unavailable" in caplog.text

    assert [r.status for r in rig.run()] == ["waiting"]  # the backoff holds
    rig.fake.server_error("chat.postMessage", status=500, times=3)
    with later(2):
        assert rig.jobs().retry() == rig.today()
    assert rig.row().status == "failed" and rig.row().attempts == 2
    with later(10):
        assert rig.jobs().retry() == rig.today()
    assert len(rig.digests()) == 1 and rig.row().status == "sent"
    with later(30):
        rig.jobs().retry()
    assert len(rig.digests()) == 1


def test_not_in_channel_logs_how_to_invite_then_posts_once_invited(rig, caplog):
    rig.fake.kick(DESK)
    with caplog.at_level(logging.ERROR, logger="newsbot"):
        [failed] = rig.run()
    assert failed.status == "failed" and rig.row().status == "failed"
    assert "/invite @newsbot" in failed.error and "/invite @newsbot" in caplog.text
    assert DESK in caplog.text and "xoxb-" not in caplog.text
    with later(2):
        rig.jobs().retry()  # still not invited
    assert not rig.digests() and rig.row().attempts == 2
    rig.fake.invite(DESK)
    with later(5):
        rig.jobs().retry()
    assert len(rig.digests()) == 1 and rig.row().status == "sent"


# -- interrupted posts ---------------------------------------------------------------------------
def test_lost_answer_is_in_doubt_and_found_in_the_channel_instead_of_reposted(rig):
    rig.fake.lose_answer("chat.postMessage")
    [doubt] = rig.run()
    assert doubt.status == "failed" and "may have gone through" in doubt.error
    assert rig.row().in_doubt
    assert len(rig.digests()) == 1  # Slack has it; nobody told us
    with later(2):
        rig.jobs().retry()
    row = rig.row()
    assert row.status == "sent" and row.ts == rig.digests()[0]["ts"]
    assert rig.posts() == 1 and len(rig.digests()) == 1


def test_gateway_timeout_is_in_doubt_and_posted_when_the_channel_lacks_it(rig):
    rig.fake.server_error("chat.postMessage", status=504)
    [doubt] = rig.run()
    assert doubt.status == "failed" and rig.row().in_doubt
    assert rig.posts() == 1  # a 504 is never retried blindly
    with later(2):
        rig.jobs().retry()
    assert rig.row().status == "sent" and len(rig.digests()) == 1
    assert len(rig.fake.calls_to("conversations.history")) >= 1


class Crash(BaseException):
    """The process dies here (nothing catches it, like kill -9 between two lines)."""


@pytest.mark.parametrize("posted_before_crash", [True, False])
def test_crash_around_the_post_is_recovered_without_a_second_digest(rig, posted_before_crash):
    def crashing_post(channel, content, marker):
        if posted_before_crash:
            rig.poster.post(channel, content, marker)
        raise Crash

    rig.post = crashing_post
    with pytest.raises(Crash):
        rig.run()
    assert rig.row().status == "claimed" and rig.row().in_doubt
    rig.post = rig.poster.post
    with later(5):
        assert [r.status for r in rig.run()] == ["busy"]  # the dead run's lease still holds
    with later(11):
        [result] = rig.run()
    assert result.status == ("recovered" if posted_before_crash else "sent")
    assert len(rig.digests()) == 1 and rig.posts() == 1
    assert rig.row().ts == rig.digests()[0]["ts"]


def test_history_that_cannot_be_read_holds_the_digest(rig):
    rig.fake.lose_answer("chat.postMessage")
    rig.run()
    rig.fake.kick(DESK)
    with later(2):
        [held] = rig.run()
    assert held.status == "held" and "history" in held.error
    rig.fake.invite(DESK)
    with later(10):
        [done] = rig.run()
    assert done.status == "recovered" and rig.posts() == 1


def test_history_scope_missing_holds_the_digest_and_names_the_scope(archive):
    with FakeSlack(scopes="commands,chat:write,app_mentions:read,im:history") as fake:
        rig = Rig(fake, archive)
        fake.lose_answer("chat.postMessage")
        rig.run()
        with later(2):
            [held] = rig.run()
    assert held.status == "held" and rig.posts() == 1
    assert "channels:history" in held.error and "reinstall" in held.error


def test_find_existing_pages_through_a_busy_channel(rig):
    marker = digest_marker(DESK, rig.today())
    client = make_client(rig.settings)
    ts = client.chat_postMessage(
        channel=DESK,
        text="digest",
        metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": marker}},
    )["ts"]
    for i in range(450):
        chatter = {"type": "message", "text": f"chatter {i}", "ts": f"{time.time() + i:.6f}"}
        rig.fake.history[DESK].append(chatter)
    assert rig.poster.find_existing(DESK, marker) == ts
    pages = rig.fake.calls_to("conversations.history")
    assert len(pages) == 3 and all(p.params["include_all_metadata"] in ("1", "true") for p in pages)
    assert rig.poster.find_existing(DESK, digest_marker(DESK, rig.today() - timedelta(1))) is None


def test_post_errors_carry_no_token(rig):
    rig.fake.lose_answer("chat.postMessage")
    content = rig.build(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC), rig.today())
    with pytest.raises(PostInDoubt) as err:
        rig.post(DESK, content, "m")
    assert "xoxb" not in str(err.value) and "test-bot-token" not in str(err.value)


# -- /news digest --------------------------------------------------------------------------------
def test_news_digest_previews_privately_without_posting_or_claiming(slack, archive, fake_slack):
    reply = slack.command("/news", "digest")
    assert reply.body["response_type"] == "ephemeral"
    assert_within_limits(reply.blocks)
    text = text_of(reply)
    assert "Newsroom digest" in text and "France has withdrawn its last troops from Mali" in text
    assert find_button(reply.blocks, ACTION_DIGEST_PASSAGES)
    assert "Preview, only you see this" in text and "DIGEST_CHANNEL unset" in text
    assert fake_slack.calls_to("chat.postMessage") == []
    assert Ledger(archive.store.conn).rows() == []


def test_preview_after_a_delivered_digest_covers_only_what_came_since(rig, archive):
    [sent] = rig.run()
    paths = {"db_path": archive.settings.db_path, "articles_dir": archive.settings.articles_dir}
    desk = Archive.open(rig.settings.with_overrides(**paths))
    try:
        text, blocks = digest_preview(desk)
        body = "\n".join([text, *iter_blocks_text(blocks)])
        since = sent.covers_to.astimezone(rig.settings.tz)
        assert f"<#{DESK}>" in body and f"{since:%H:%M}" in body
        assert "Nothing new" in body and "France has withdrawn" not in body
        write_articles(desk, 1)
        text, blocks = digest_preview(desk)
        assert "council backs" in text and "Nothing new" not in text
    finally:
        desk.close()
    assert len(rig.digests()) == 1 and len(Ledger(archive.store.conn).rows()) == 1
