"""The whole digest everywhere: ``--all``, the "See all N stories" button (thread replies,
exactly once per click, within limits), the console's clicks, and what a new user saw
("2 sources:" listing one, ``/news sources`` out of date order)."""

from __future__ import annotations

import io
import json
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from blockkit import BARE_AMP, HOSTILE, all_text, article, assert_valid, digest_of
from conftest import CHANNEL, HttpDriver, bot_settings, find_button
from fakeslack import iter_blocks_text
from test_cli import newsbot
from test_slack_socket import assert_within_limits

from bot.digest.build import build_digest
from bot.settings import Settings
from bot.slack.console import run_console
from bot.slack.listeners.actions import parse_digest_all
from bot.slack.views.blocks import Message
from bot.slack.views.buttons import ACTION_DIGEST_ALL
from bot.slack.views.digest import digest_rest, render_digest

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "stories"


def add_stories(archive, part: str = "fit") -> None:
    """Our labelled set's articles (15 events) beside the seeds, ingested."""
    for path in sorted((DATA / part).glob("*.txt")):
        shutil.copy(path, archive.settings.articles_dir / f"{part}_{path.name}")
    archive.ingest()


def whole_digest(archive, max_stories: int | None = 10):
    now = datetime.now(UTC)
    return build_digest(
        archive.store, now - timedelta(days=1), now + timedelta(minutes=1), date.today(),
        max_stories=max_stories,
    )  # fmt: skip


def thread_replies(fake, thread_ts: str) -> list[dict]:
    return [m for m in fake.messages_in(CHANNEL) if m.get("thread_ts") == thread_ts]


# -- the button in Slack -------------------------------------------------------------------------


def test_see_all_posts_the_rest_in_the_thread_once_per_click(slack_http, fake_slack, archive):
    add_stories(archive)
    digest = whole_digest(archive)
    assert digest.more > 0
    _, blocks = render_digest(digest)
    button = find_button(blocks, ACTION_DIGEST_ALL)
    total = len(digest.stories) + digest.more
    assert button["text"]["text"] == f"See all {total} stories"
    thread_ts = "1700000000.000200"
    payload = slack_http.click_payload(button, ephemeral=False, message_ts=thread_ts)
    slack_http.deliver("interactive", payload)
    fake_slack.wait_until(lambda: bool(thread_replies(fake_slack, thread_ts)))
    time.sleep(0.5)
    replies = thread_replies(fake_slack, thread_ts)
    shown = "\n".join(t for m in replies for t in iter_blocks_text(m["blocks"]))
    for story in whole_digest(archive, None).stories[len(digest.stories) :]:
        assert story.headline.replace("&", "&amp;") in shown
    for story in digest.stories:
        assert f"*{story.headline}*" not in shown
    for message in replies:
        assert_within_limits(message["blocks"])
    # Slack retries the same click (same trigger_id): nothing more is posted.
    slack_http.deliver("interactive", payload, retry=1)
    time.sleep(0.5)
    assert len(thread_replies(fake_slack, thread_ts)) == len(replies)


def test_a_click_delivered_to_a_second_process_posts_nothing_more(slack_http, fake_slack, archive):
    """The claim is in the shared ledger, not only in one process's memory."""
    from bot.slack.app import build_app
    from bot.slack.serve import HttpServer

    add_stories(archive)
    _, blocks = render_digest(whole_digest(archive))
    thread_ts = "1700000000.000300"
    button = find_button(blocks, ACTION_DIGEST_ALL)
    payload = slack_http.click_payload(button, ephemeral=False, message_ts=thread_ts)
    slack_http.deliver("interactive", payload)
    fake_slack.wait_until(lambda: bool(thread_replies(fake_slack, thread_ts)))
    time.sleep(0.5)
    first = len(thread_replies(fake_slack, thread_ts))
    other = build_app(bot_settings(fake_slack, signing_secret="test-signing-secret"), archive)
    server = HttpServer(other, archive, host="127.0.0.1", port=0).start()
    try:
        HttpDriver(fake_slack, server.url).deliver("interactive", payload)
        time.sleep(1.0)
    finally:
        server.stop()
    assert len(thread_replies(fake_slack, thread_ts)) == first
    # A new click (its own action_ts and trigger) is a new request, answered once.
    again = slack_http.click_payload(button, ephemeral=False, message_ts=thread_ts)
    slack_http.deliver("interactive", again)
    fake_slack.wait_until(lambda: len(thread_replies(fake_slack, thread_ts)) == 2 * first)


def test_see_all_in_a_private_preview_answers_privately(slack, archive):
    add_stories(archive)
    reply = slack.command("/news", "digest")
    button = find_button(reply.blocks, ACTION_DIGEST_ALL)
    rest = slack.click(button, wait_for="response")
    assert rest.body["response_type"] == "ephemeral" and rest.body["replace_original"] is False
    assert "*11.*" in "\n".join(iter_blocks_text(rest.blocks))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[1, 2]",
        json.dumps({"d": "2026-03-10", "f": 10, "u": 5, "n": 3}),  # until before since
        json.dumps({"d": "2026-03-10", "f": 0, "u": 10**9, "n": 3}),  # a window of decades
        json.dumps({"d": "2026-13-10", "f": 1, "u": 5, "n": 3}),
        json.dumps({"d": "2026-03-10", "f": 1, "u": 5, "n": -1}),
        json.dumps({"d": "2026-03-10", "f": "9" * 5000, "u": 5, "n": 1}),
        json.dumps({"d": "2026-03-10", "f": 1e308, "u": float("inf"), "n": 1}),
    ],
)
def test_untrusted_button_values_get_one_clear_line(slack, value):
    assert parse_digest_all({"value": value}) is None
    button = {"action_id": ACTION_DIGEST_ALL, "text": {"type": "plain_text"}, "value": value}
    reply = slack.click(button, wait_for="response")
    assert reply.text.startswith("That button is out of date")


def test_thread_replies_stay_within_limits_for_hundreds_of_stories():
    from bot.digest.build import Story

    stories = [
        Story(f"Story {i} {HOSTILE}" * 5, (f"{HOSTILE} sentence. " * 60,), (article(i),) * 30)
        for i in range(300)
    ]
    messages = digest_rest(stories, 10)
    assert len(messages) > 1
    seen = 0
    for message in messages:
        assert_within_limits(message.blocks)
        seen += sum(1 for b in message.blocks if b.get("accessory"))
    assert seen == 290
    _, blocks = render_digest(digest_of(tuple(stories[:10]), more=290))
    assert find_button(blocks, ACTION_DIGEST_ALL)["text"]["text"] == "See all 300 stories"
    assert_within_limits(blocks)


# -- what a new user saw -------------------------------------------------------------------------


def test_two_sources_lists_two(archive):
    _, blocks = render_digest(whole_digest(archive))
    line = next(t for t in iter_blocks_text(blocks) if t.startswith("2 sources:"))
    assert line.count(";") == 1 and "France has withdrawn its last troops from Mali" in line


def test_news_sources_is_newest_first_by_date(slack, archive):
    add_stories(archive)
    reply = slack.command("/news", "sources")
    lines = [t for t in iter_blocks_text(reply.blocks) if t.startswith("•")]
    dates = []
    for line in "\n".join(lines).splitlines():
        for part in line.split(" · "):
            try:
                dates.append(datetime.strptime(part.strip(), "%d %b %Y"))
            except ValueError:
                continue
    assert len(dates) >= 10 and dates == sorted(dates, reverse=True)


# -- the console ---------------------------------------------------------------------------------


def test_console_clicks_see_passages_and_see_all(archive):
    add_stories(archive)
    out = io.StringIO()
    lines = "/news digest\n:passages 2\n:all\n:quit\n"
    assert run_console(Settings(), archive, stdin=io.StringIO(lines), out=out) == 0
    answers = out.getvalue().split("── newsbot")
    total = whole_digest(archive, None).total_stories
    assert total > 11
    assert f"[See all {total} stories]  :all" in answers[1] and ":passages 2" in answers[1]
    assert "paragraphs" in answers[2] and "(only visible to you)" in answers[2]
    assert "*11.*" in answers[3] and f"*{total}.*" in answers[3]


# -- the CLI -------------------------------------------------------------------------------------


def test_digest_all_lists_every_story(tmp_path):
    shutil.copytree(DATA / "fit", tmp_path / "seeds")
    top = json.loads(newsbot(tmp_path, "digest", "--dry-run", "--json").stdout)
    every = json.loads(newsbot(tmp_path, "digest", "--dry-run", "--json", "--all").stdout)
    assert len(top["stories"]) == 10 and top["more"] == len(every["stories"]) - 10 > 0
    assert every["more"] == 0
    paths = {s["path"] for story in every["stories"] for s in story["sources"]}
    assert len(paths) == len(list((DATA / "fit").glob("*.txt")))
    differ = [d for story in every["stories"] for d in story["disagreements"]]
    assert {d["what"] for d in differ} >= {"troops", "injured", "homes without power"}
    text = newsbot(tmp_path, "digest", "--all")
    assert text.returncode == 0 and "…and" not in text.stdout
    assert "Sources differ: troops 4,500 (National Post) / 5,000 (Continental Press)" in text.stdout
    bad = newsbot(tmp_path, "digest", "--post", "--all")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1


def test_sources_differ_line_shows_hostile_source_names_inertly():

    from bot.digest.build import Story
    from bot.digest.figures import Claim, Disagreement

    differ = Disagreement("death toll", (Claim(12, "a", "Wire"), Claim(14, "b", HOSTILE)))
    story = Story("Ferry capsizes", ("It sank.",), (article(1), article(2)), (differ,))
    message = Message(*render_digest(digest_of((story,))))
    assert_valid(message)
    body = all_text(message)
    assert ":warning: Sources differ: death toll 12 (Wire) / 14 (" in body
    assert "<!channel>" not in body and "<@U0BADBAD>" not in body and not BARE_AMP.search(body)
