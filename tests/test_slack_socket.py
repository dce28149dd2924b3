"""The bot end to end in Socket Mode: real Bolt, real archive, fake Slack on loopback."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from conftest import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, CHANNEL, DM_CHANNEL, USER, find_button
from fakeslack import iter_blocks_text
from slack_sdk.models.blocks import Block

from bot.slack.listeners.commands import router
from bot.slack.views.blocks import MAX_BLOCKS, MESSAGE_CHARS
from bot.slack.views.buttons import ACTION_MORE, ACTION_SHARE

BARE = re.compile(r"&(?!amp;|lt;|gt;)")


def text_of(reply) -> str:
    blocks = reply.blocks
    own = reply.text if hasattr(reply, "text") else reply.params.get("text", "")
    return "\n".join([own, *iter_blocks_text(blocks)])


def assert_within_limits(blocks) -> None:
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks, ensure_ascii=False)) <= MESSAGE_CHARS
    for block in blocks:
        Block.parse(block).to_dict()  # slack_sdk validates text and element limits here


# -- /news ---------------------------------------------------------------------------------------
def test_command_is_acked_then_answered_ephemerally_with_highlights(slack):
    reply = slack.command("/news", "wagner")
    assert slack.last_ack.get("payload") in (None, {})  # an empty ack: no "searching..." noise
    assert reply.body["response_type"] == "ephemeral"
    text = text_of(reply)
    assert "*Wagner*" in text
    assert re.search(r"paragraph \d+ of \d+", text)
    assert "Thomas Brooke, REMIX NEWS · 23 Sep 2023" in text
    assert find_button(reply.blocks, ACTION_SHARE)
    assert_within_limits(reply.blocks)


def test_typo_gets_did_you_mean_and_unknown_words_are_searched(slack):
    reply = slack.command("/news", "mercinaries")
    assert "Did you mean *mercenaries*?" in text_of(reply)
    assert "*mercenaries*" in text_of(reply).split("\n", 2)[-1]


def test_help_and_empty_command_list_every_handler(slack):
    for text in ("help", "", "HELP"):
        reply = slack.command("/news", text)
        body = text_of(reply)
        for sub in router.subcommands.values():
            assert f"`{sub.usage}`" in body
        assert "`/news KEYWORDS`" in body and "direct message" in body and "@newsbot" in body
        assert reply.body["response_type"] == "ephemeral"


def test_help_documents_the_query_syntax_in_the_command_and_a_dm(slack):
    syntax = ('"exact phrase"', "-word", '-"a phrase"', "by:NAME", "after:", "before:")
    for body in (text_of(slack.command("/news", "help")), text_of(slack.dm("help"))):
        for part in syntax:
            assert part in body, part


def test_the_query_syntax_works_the_same_in_the_command_a_dm_and_a_mention(slack):
    # As Slack clients type it: curly quotes around the phrase.
    query = "“russian mercenaries” -wagner by:brooke before:2023-10-01"
    for reply in (slack.command("/news", query), slack.dm(query), slack.mention(query)):
        text = text_of(reply)
        assert "*Russian* *mercenaries*" in text and "Bandiagara" in text
        assert "Thomas Brooke" in text
    # Each filter leaves that passage out: the phrase in another order, a word of it excluded,
    # another author, a date before its article's.
    for other in (
        '"mercenaries russian"',
        '"russian mercenaries" -bandiagara',
        '"russian mercenaries" by:kowalska',
        '"russian mercenaries" before:2023-09-01',
    ):
        assert "Bandiagara" not in text_of(slack.dm(other)), other
    # (The other seed article's passage has the phrase too, and no byline.)
    assert "*Russian* *mercenaries*" in text_of(slack.dm('"russian mercenaries" -bandiagara'))
    for reply in (slack.command("/news", "after:2023-13-45 mali"), slack.dm("by: mali")):
        text = text_of(reply)
        assert "YYYY-MM-DD" in text or "needs a name" in text
        assert "*Mali*" not in text and "Traceback" not in text


def test_sources_lists_the_archive(slack, archive):
    reply = slack.command("/news", "sources")
    text = text_of(reply)
    assert "*2* articles" in text
    for article in archive.store.articles():
        assert article.title.split()[0] in text


def test_nothing_found_says_so(slack):
    reply = slack.command("/news", "zzqxv")
    assert "No results for *zzqxv*" in text_of(reply)
    assert not any(b["type"] == "actions" for b in reply.blocks)


def test_more_results_replaces_the_message_with_the_next_page(slack):
    first = slack.command("/news", "mali")
    more = find_button(first.blocks, ACTION_MORE)
    second = slack.click(more)
    assert second.body["replace_original"] is True
    assert "Results 6–10" in text_of(second)
    first_ids = [find_button([b], ACTION_SHARE)["value"] for b in first.blocks if "accessory" in b]
    second_ids = [
        find_button([b], ACTION_SHARE)["value"] for b in second.blocks if "accessory" in b
    ]
    assert first_ids and second_ids and not set(first_ids) & set(second_ids)


def test_share_posts_visibly_with_attribution(slack):
    reply = slack.command("/news", "wagner")
    shared = slack.click(find_button(reply.blocks, ACTION_SHARE), wait_for="post")
    assert shared.method == "chat.postMessage"
    assert shared.params["channel"] == CHANNEL
    text = text_of(shared)
    assert f"Shared by <@{USER}>" in text and "*Wagner*" in text


def test_share_where_the_bot_is_not_a_member_explains_how_to_invite(slack, fake_slack):
    reply = slack.command("/news", "wagner")
    fake_slack.fail("chat.postMessage", error="not_in_channel")
    answer = slack.click(find_button(reply.blocks, ACTION_SHARE), wait_for="response")
    assert answer.body["response_type"] == "ephemeral"
    assert answer.body["replace_original"] is False
    assert "/invite @newsbot" in answer.text


# -- DMs and mentions ----------------------------------------------------------------------------
def test_dm_is_searched_and_answered_in_the_dm(slack):
    reply = slack.dm("mali troops")
    assert reply.params["channel"] == DM_CHANNEL
    assert "thread_ts" not in reply.params
    assert "*troops*" in text_of(reply)


def test_greetings_in_dm_get_help(slack):
    for word in ("hi", "hello", "help"):
        assert "`/news KEYWORDS`" in text_of(slack.dm(word))


def test_mention_is_answered_in_a_thread(slack):
    reply = slack.mention("Bandiagra")
    assert reply.params["channel"] == CHANNEL
    assert reply.params["thread_ts"]
    assert "*Bandiagara*" in text_of(reply)
    assert f"<@{BOT_USER_ID}>" not in text_of(reply)
    in_thread = slack.mention("hello", thread_ts="1799999999.000100")
    assert in_thread.params["thread_ts"] == "1799999999.000100"
    assert "`/news KEYWORDS`" in text_of(in_thread)


# -- retries and loops ---------------------------------------------------------------------------
def test_retried_event_is_answered_once(slack, fake_slack):
    event = slack.message_event("wagner")
    slack.send_event(event, event_id="Ev0RETRY01")
    fake_slack.wait_for_call("chat.postMessage")
    ack = slack.send_event(event, event_id="Ev0RETRY01", retry=1)
    assert ack["envelope_id"]
    other_id_same_message = slack.send_event(event, event_id="Ev0RETRY02", retry=2)
    assert other_id_same_message
    slack.assert_quiet()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_redelivered_command_and_click_are_acked_but_answered_once(slack, fake_slack):
    payload = slack.command_payload("/news", "wagner")
    first = fake_slack.send_envelope("slash_commands", payload)
    fake_slack.wait_for_posted(payload["response_url"])
    fake_slack.redeliver(first)  # Slack did not get the ack: same envelope, same trigger_id
    fake_slack.wait_until(lambda: len(fake_slack.ack_log) >= 2)
    assert [a["envelope_id"] for a in fake_slack.acks_of(first)] == [first, first]
    button = find_button(fake_slack.posted_to(payload["response_url"])[0].blocks, "share_hit")
    slack.click(button, wait_for="post")
    click = fake_slack.sent_envelopes[-1]["envelope_id"]
    fake_slack.redeliver(click)
    fake_slack.wait_until(lambda: len(fake_slack.acks_of(click)) == 2)
    slack.assert_quiet()
    assert len(fake_slack.posted_to(payload["response_url"])) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))  # a new one is answered


def test_bot_messages_and_edits_are_ignored(slack, fake_slack):
    for extra in (
        {"bot_id": "B0OTHER"},
        {"subtype": "bot_message", "user": None, "bot_id": "B0OTHER"},
        {"user": BOT_USER_ID},
        {"subtype": "message_changed"},
        {"subtype": "channel_join"},
    ):
        slack.send_event(slack.message_event("wagner", **extra))
    bot_mention = slack.message_event(f"<@{BOT_USER_ID}> wagner", bot_id="B0OTHER", channel=CHANNEL)
    bot_mention["type"] = "app_mention"
    slack.send_event(bot_mention)
    slack.assert_quiet()
    assert fake_slack.calls_to("chat.postMessage") == []
    assert slack.dm("wagner")  # and a person is still answered


# -- escaping ------------------------------------------------------------------------------------
def test_untrusted_text_is_shown_literally_and_pings_nobody(slack, archive):
    hostile = "<!channel> <@U0VICTIM> <http://evil.test|click here> Tom & Jerry"
    folder = Path(archive.settings.articles_dir)
    (folder / "hostile.txt").write_text(
        f"Zebrafish {hostile}\n\nThe zebrafish story {hostile} ends here.\n", encoding="utf-8"
    )
    archive.ingest()
    # Slack sends what the user typed escaped and with markup: it must be read back as text.
    reply = slack.command("/news", "zebrafish &lt;!channel&gt; &amp; <@U0VICTIM>")
    text = text_of(reply)
    assert "*zebrafish*" in text.lower()
    assert "<!channel>" not in text and "<@U0VICTIM>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt;" in text and "Tom &amp; Jerry" in text
    assert not BARE.search(text)
    dm = slack.dm("zebrafish")
    assert "<!channel>" not in text_of(dm) and not BARE.search(text_of(dm))


# -- Slack API failures --------------------------------------------------------------------------
def test_rate_limited_post_is_retried_after_retry_after(slack, fake_slack):
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    slack.send_event(slack.message_event("wagner"))
    attempts = fake_slack.wait_for_call("chat.postMessage", count=2)
    assert attempts[1].params == attempts[0].params
    assert attempts[1].at - attempts[0].at >= 1.0
    assert time.monotonic() - started < 5


def test_server_errors_are_retried_a_bounded_number_of_times(slack, fake_slack):
    fake_slack.server_error("chat.postMessage", status=503, times=2)
    slack.send_event(slack.message_event("wagner"))
    attempts = fake_slack.wait_for_call("chat.postMessage", count=3)
    slack.assert_quiet(0.3)
    assert len(fake_slack.calls_to("chat.postMessage")) == 3
    assert "*Wagner*" in text_of(attempts[2])


def test_slack_down_does_not_stop_the_bot(slack, fake_slack, caplog):
    fake_slack.server_error("chat.postMessage", status=502, times=20)
    slack.send_event(slack.message_event("wagner"))
    # first answer: 3 attempts; the apology: 3 more; then it gives up and logs
    fake_slack.wait_for_call("chat.postMessage", count=6, timeout=10)
    slack.assert_quiet(0.5)
    assert len(fake_slack.calls_to("chat.postMessage")) == 6
    fake_slack._faults.clear()
    assert "*Wagner*" in text_of(slack.dm("wagner"))


def test_response_url_429_and_5xx_are_retried_and_answered_once(slack, fake_slack):
    fake_slack.response_error(429, retry_after=1)
    fake_slack.response_error(503)
    started = time.monotonic()
    payload = slack.command_payload("/news", "wagner")
    fake_slack.send_envelope("slash_commands", payload)
    [reply] = fake_slack.wait_for_posted(payload["response_url"], timeout=10)
    assert time.monotonic() - started >= 1.0
    assert "*Wagner*" in text_of(reply)
    assert fake_slack.response_failures == [payload["response_url"].rsplit("/", 1)[1]] * 2
    slack.assert_quiet()
    assert len(fake_slack.posted_to(payload["response_url"])) == 1


def test_response_url_down_is_answered_ephemerally_and_the_bot_keeps_serving(
    slack, fake_slack, caplog
):
    caplog.set_level(logging.INFO, logger="newsbot")
    fake_slack.response_error(502, times=3)  # the first try and both retries
    payload = slack.command_payload("/news", "wagner")
    fake_slack.send_envelope("slash_commands", payload)
    [answer] = fake_slack.wait_for_call("chat.postEphemeral", timeout=10)
    assert len(fake_slack.response_failures) == 3
    assert answer.params["user"] == payload["user_id"]
    assert answer.params["channel"] == payload["channel_id"]
    assert "*Wagner*" in text_of(answer)
    slack.assert_quiet()
    assert fake_slack.posted_to(payload["response_url"]) == []
    assert "HTTP 502" in caplog.text and "chat.postEphemeral instead" in caplog.text
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))


def test_failing_listener_apologises_logs_without_tokens_and_keeps_serving(
    slack, archive, monkeypatch, caplog
):
    real_search = archive.search

    def broken(query, *a, **kw):
        if "explode" in query:
            raise RuntimeError(f"index exploded (token {BOT_TOKEN})")
        return real_search(query, *a, **kw)

    monkeypatch.setattr(archive, "search", broken)
    with caplog.at_level(logging.INFO):
        reply = slack.command("/news", "explode")
        mention = slack.mention("explode")
    assert "Sorry, something went wrong" in reply.text
    assert reply.body["response_type"] == "ephemeral"
    assert "Sorry" in text_of(mention) and mention.params["thread_ts"]
    assert "index exploded" in caplog.text
    assert BOT_TOKEN not in caplog.text and APP_TOKEN not in caplog.text
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))


# -- limits --------------------------------------------------------------------------------------
def test_huge_articles_are_cut_to_block_kit_limits(slack, archive):
    folder = Path(archive.settings.articles_dir)
    para = " ".join(["quokka <&> festival"] * 400)
    for i in range(30):
        body = "\n\n".join([para] * 5)
        (folder / f"big{i}.txt").write_text(f"Quokka {'<&>' * 100} {i}\n\n{body}\n", "utf-8")
    archive.ingest()
    reply = slack.command("/news", "quokka festival")
    assert_within_limits(reply.blocks)
    text = text_of(reply)
    assert "…" in text and "*quokka*" in text.lower()
    assert not BARE.search(text)
    more = find_button(reply.blocks, ACTION_MORE)
    assert_within_limits(slack.click(more).blocks)


# -- connection ----------------------------------------------------------------------------------
def test_dropped_connection_reconnects_and_answers_again(slack, fake_slack):
    opened = fake_slack.connections_opened
    assert fake_slack.drop_connections() == 1
    fake_slack.wait_until(lambda: fake_slack.connections_opened > opened, timeout=15)
    fake_slack.wait_connected(timeout=15)
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))


def test_log_lines_about_a_request_carry_its_id(slack, archive, monkeypatch):
    import io

    from bot.logs import setup_logging

    stream = io.StringIO()
    setup_logging("INFO", stream)
    try:

        def broken(query, *a, **kw):
            raise RuntimeError("index exploded")

        monkeypatch.setattr(archive, "search", broken)
        slack.mention("explode")
    finally:
        setup_logging("WARNING")
    failed = [line for line in stream.getvalue().splitlines() if "listener failed" in line]
    assert failed, stream.getvalue()
    assert " ERROR slack [req=Ev" in failed[0]
