"""Each malformed or hostile request from issue 13, one by one: signed, over real HTTP (and
through Socket Mode) to the real app with the fake Slack. Every one gets a fast, clean answer:
no 5xx, no crash, no ERROR line or traceback, and one log line that names the request."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import CHANNEL, USER, find_button
from hostile import RAW_BODIES
from test_slack_http import text_of

from bot.logs import setup_logging
from bot.slack.app import BUTTON_EXPIRED
from bot.slack.views.buttons import ACTION_DIGEST_PASSAGES, ACTION_MORE, ACTION_SHARE

MALI_MORE = {"action_id": ACTION_MORE, "text": {"type": "plain_text", "text": "More"}}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The bot's log at INFO, formatted as ``newsbot serve`` writes it."""
    stream = io.StringIO()
    setup_logging("INFO", stream)
    yield stream
    setup_logging("WARNING")


def lines(stream: io.StringIO, level: str | None = None) -> list[str]:
    found = stream.getvalue().splitlines()
    return [line for line in found if level is None or f" {level} " in line]


def assert_clean(stream: io.StringIO) -> None:
    assert not lines(stream, "ERROR"), stream.getvalue()
    assert "Traceback" not in stream.getvalue()


def button(value: str, action_id: str = ACTION_MORE) -> dict:
    return {**MALI_MORE, "action_id": action_id, "value": value}


def click_payload(driver, value: str, action_id: str = ACTION_MORE, **over) -> dict:
    payload = {
        "type": "block_actions",
        "user": {"id": USER},
        "container": {"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
        "channel": {"id": CHANNEL},
        "trigger_id": f"trig.{uuid.uuid4().hex}",
        "response_url": driver.fake.response_url(),
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
    }
    payload.update(over)
    return {k: v for k, v in payload.items() if v is not None}


# -- the index ----------------------------------------------------------------------------------
def test_search_clamps_any_offset(archive):
    started = time.perf_counter()
    result = archive.search("mali", offset=2**31)  # once: the index tried to allocate 68 GB
    assert result.hits == () and time.perf_counter() - started < 5


# -- buttons ------------------------------------------------------------------------------------
def test_paging_button_with_a_huge_offset_says_expired_and_the_bot_keeps_serving(
    slack_http, log_lines
):
    reply = slack_http.click(button(json.dumps({"q": "mali", "o": 2147483648})))
    assert slack_http.last_ack["status"] == 200 and slack_http.last_ack["seconds"] < 2
    assert reply.text == BUTTON_EXPIRED and reply.body["response_type"] == "ephemeral"
    assert reply.body["replace_original"] is False
    assert_clean(log_lines)
    assert "*Wagner*" in text_of(slack_http.command("/news", "wagner"))


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        (ACTION_MORE, '{"q": "mali", "o": NaN}'),
        (ACTION_MORE, '{"q": "mali", "o": "5"}'),  # a string of digits is fine
        (ACTION_MORE, '{"q": "mali", "o": "five"}'),
        (ACTION_MORE, '{"q": ["mali"], "o": 5}'),
        (ACTION_MORE, '{"q": "mali", "o": 1e400}'),
        (ACTION_MORE, "[" * 5_000 + "]" * 5_000),
        (ACTION_MORE, "not json"),
        (ACTION_SHARE, '{"p": 99999999999999999999999}'),
        (ACTION_SHARE, '{"p": true}'),
        (ACTION_DIGEST_PASSAGES, '{"a": "1,2"}'),
        ("an_unknown_action", "{}"),
    ],
)
def test_invalid_buttons_are_answered_briefly(slack_http, log_lines, action_id, value):
    reply = slack_http.click(button(value, action_id))
    assert slack_http.last_ack["status"] == 200 and slack_http.last_ack["seconds"] < 2
    if value == '{"q": "mali", "o": "5"}':
        assert "Results 6–10" in text_of(reply)
        return
    assert reply.text == BUTTON_EXPIRED
    assert_clean(log_lines)
    [line] = [x for x in lines(log_lines, "INFO") if "invalid button" in x]
    assert "[req=trigger-" in line


def test_a_listener_that_raises_right_after_ack_is_still_acked(
    slack_http, archive, monkeypatch, log_lines
):
    """Bolt reset the ack when a listener raised soon after ack(), then answered 404 after 3 s."""

    def broken(*a, **kw):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(archive, "search", broken)
    for _ in range(5):
        reply = slack_http.command("/news", "wagner")
        assert slack_http.last_ack["status"] == 200 and slack_http.last_ack["seconds"] < 2
        assert "Sorry, something went wrong" in reply.text
    for _ in range(5):  # the button raises InvalidButton at once
        reply = slack_http.click(button("{}"))
        assert slack_http.last_ack["status"] == 200 and slack_http.last_ack["seconds"] < 2


# -- bodies that do not parse -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type"),
    RAW_BODIES,
    ids=[
        "empty",
        "invalid-json",
        "not-utf8",
        "payload-list",
        "actions-empty",
        "form-missing-equals",
        "form-bad-percent",
        "nested-5000-deep",
        "1MB",
        "json-list",
        "json-string",
    ],
)
def test_bodies_that_do_not_parse_get_a_fast_4xx_and_one_warning(
    slack_http, log_lines, body, content_type
):
    status, _, seconds = slack_http.post(body, content_type)
    assert 400 <= status < 500 and seconds < 2
    assert_clean(log_lines)
    [line] = lines(log_lines)
    assert " WARNING slack.guard [req=http-" in line and "rejected a request" in line


def test_unsigned_garbage_is_still_refused_without_a_signature(slack_http):
    status, _, _ = slack_http.post(b"{not json", "application/json", signature="v0=00")
    assert 400 <= status < 500


# -- events of odd shapes -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"text": 12345},
        {"text": {"a": 1}},
        {"subtype": {"a": 1}},
        {"subtype": ["x"]},
        {"subtype": "message_changed", "message": {"text": "wagner"}},
        {"subtype": "message_deleted"},
        {"channel": {"id": "D0X"}},
        {"user": ["U0REPORTER"]},
        {"type": "reaction_added"},
        {"type": "a_type_no_one_sends"},
    ],
    ids=lambda c: json.dumps(c)[:40],
)
def test_odd_events_are_ignored_cleanly(slack_http, log_lines, change):
    event = {**slack_http.message_event("wagner"), **change}
    status, _, seconds = slack_http.post(
        json.dumps(slack_http.event_payload(event)).encode(), "application/json"
    )
    assert status == 200 and seconds < 2
    slack_http.assert_quiet(0.3)
    assert_clean(log_lines)
    assert not lines(log_lines, "WARNING")


@pytest.mark.parametrize(
    "change", [{"subtype": "file_share"}, {"text": "wagner " * 5_715}], ids=["file_share", "40k"]
)
def test_a_file_share_and_a_40000_character_message_are_answered(slack_http, log_lines, change):
    reply = slack_http.dm(change.pop("text", "wagner"), **change)
    assert "*Wagner*" in text_of(reply)
    assert_clean(log_lines)


def test_a_duplicate_event_is_answered_once(slack_http, fake_slack, log_lines):
    payload = slack_http.event_payload(slack_http.message_event("wagner"), event_id="Ev0TWICE")
    body = json.dumps(payload).encode()
    assert slack_http.post(body, "application/json")[0] == 200
    fake_slack.wait_for_call("chat.postMessage")
    assert slack_http.post(body, "application/json")[0] == 200
    slack_http.assert_quiet()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert [x for x in lines(log_lines, "INFO") if "repeated delivery" in x]


# -- expired and missing response_url -----------------------------------------------------------
def first_page(driver) -> dict:
    return find_button(driver.command("/news", "mali").blocks, ACTION_MORE)


def test_an_expired_response_url_is_answered_with_an_ephemeral_message(
    slack_http, fake_slack, log_lines
):
    more = first_page(slack_http)
    url = fake_slack.response_url()
    fake_slack.expire(url)
    slack_http.deliver("interactive", click_payload(slack_http, more["value"], response_url=url))
    [answer] = fake_slack.wait_for_call("chat.postEphemeral")
    slack_http.assert_quiet(0.3)  # the log line follows the call
    assert answer.params["channel"] == CHANNEL and answer.params["user"] == USER
    assert "Results 6–10" in text_of(answer)
    assert_clean(log_lines)
    assert not lines(log_lines, "WARNING")
    [line] = [x for x in lines(log_lines, "INFO") if "chat.postEphemeral instead" in x]
    assert "HTTP 404" in line and "[req=trigger-" in line


def test_when_no_answer_is_possible_one_warning_says_why(slack_http, fake_slack, log_lines):
    more = first_page(slack_http)
    url = fake_slack.response_url()
    fake_slack.expire(url)
    fake_slack.fail("chat.postEphemeral", "channel_not_found")
    slack_http.deliver("interactive", click_payload(slack_http, more["value"], response_url=url))
    fake_slack.wait_for_call("chat.postEphemeral")
    slack_http.assert_quiet()
    assert_clean(log_lines)
    [line] = lines(log_lines, "WARNING")
    assert "HTTP 404" in line and "channel_not_found" in line and "not shown" in line


def test_a_click_without_a_response_url_is_answered_ephemerally(slack_http, fake_slack, log_lines):
    more = first_page(slack_http)
    ack = slack_http.deliver(
        "interactive", click_payload(slack_http, more["value"], response_url=None)
    )
    assert ack["status"] == 200 and ack["seconds"] < 2
    [answer] = fake_slack.wait_for_call("chat.postEphemeral")
    slack_http.assert_quiet(0.3)
    assert answer.params["user"] == USER and "Results 6–10" in text_of(answer)
    assert_clean(log_lines)
    assert not lines(log_lines, "WARNING")


def test_a_click_without_response_url_channel_or_user_gets_one_warning(
    slack_http, fake_slack, log_lines
):
    payload = click_payload(slack_http, "{}", response_url=None, channel=None, container=None)
    del payload["user"]
    assert slack_http.deliver("interactive", payload)["status"] == 200
    slack_http.assert_quiet()
    assert_clean(log_lines)
    [line] = lines(log_lines, "WARNING")
    assert "no response_url" in line and "no channel and user" in line


# -- request ids in the log ---------------------------------------------------------------------
def test_log_lines_name_their_own_request_also_before_the_middleware(
    slack_http, archive, monkeypatch, log_lines
):
    def broken(*a, **kw):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(archive, "search", broken)
    event = slack_http.event_payload(slack_http.message_event("wagner"), event_id="Ev0FIRST")
    assert slack_http.post(json.dumps(event).encode(), "application/json")[0] == 200
    slack_http.fake.wait_for_call("chat.postMessage")  # the apology
    for _ in range(2):
        assert slack_http.post(b"{not json", "application/json")[0] == 400
    [failed] = lines(log_lines, "ERROR")
    assert "[req=Ev0FIRST]" in failed and "listener failed" in failed
    rejected = lines(log_lines, "WARNING")
    ids = [x.split("[req=")[1].split("]")[0] for x in rejected]
    assert len(ids) == 2 and all(i.startswith("http-") for i in ids) and ids[0] != ids[1]


# -- Socket Mode --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"type": "block_actions", "actions": []},
        {"type": "event_callback", "event": "hi"},
        {"type": "block_actions", "actions": [{"action_id": "x"}], "authorizations": "x"},
    ],
    ids=["list", "actions-empty", "event-string", "authorizations-string"],
)
def test_socket_mode_acknowledges_envelopes_it_cannot_handle(slack, fake_slack, payload, log_lines):
    envelope = fake_slack.send_envelope("interactive", payload)  # type: ignore[arg-type]
    fake_slack.wait_for_ack(envelope, timeout=2)
    assert_clean(log_lines)
    [line] = lines(log_lines, "WARNING")
    assert f"[req={envelope}]" in line and "could not handle" in line
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))


def test_socket_mode_huge_offset_says_expired(slack, fake_slack, log_lines):
    reply = slack.click(button(json.dumps({"q": "mali", "o": 2**31})))
    assert reply.text == BUTTON_EXPIRED
    assert_clean(log_lines)
