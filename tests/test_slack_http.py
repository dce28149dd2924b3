"""The bot in HTTP mode: waitress serving Bolt's WSGI adapter, requests signed like Slack's."""

from __future__ import annotations

import json
import threading
import time
from urllib.request import urlopen

import pytest
from conftest import SIGNING_SECRET, bot_settings, find_button
from fakeslack import iter_blocks_text

from bot.slack.serve import run_serve
from bot.slack.views.buttons import ACTION_MORE


def text_of(reply) -> str:
    own = reply.text if hasattr(reply, "text") else reply.params.get("text", "")
    return "\n".join([own, *iter_blocks_text(reply.blocks)])


def test_signed_command_is_acked_at_once_and_answered(slack_http):
    reply = slack_http.command("/news", "wagner")
    assert slack_http.last_ack["status"] == 200
    assert slack_http.last_ack["body"] == b""
    assert reply.body["response_type"] == "ephemeral"
    assert "*Wagner*" in text_of(reply)
    many = slack_http.command("/news", "mali")
    again = slack_http.click(find_button(many.blocks, ACTION_MORE))
    assert again.body["replace_original"] is True and "Results 6–10" in text_of(again)


def test_dm_and_mention_over_http(slack_http):
    assert "*troops*" in text_of(slack_http.dm("mali troops"))
    mention = slack_http.mention("mercinaries")
    assert mention.params["thread_ts"] and "*mercenaries*" in text_of(mention)


@pytest.mark.parametrize(
    "tamper",
    ["bad_signature", "stale_timestamp", "future_timestamp", "missing_signature", "body_changed"],
)
def test_forged_or_stale_requests_are_rejected(slack_http, fake_slack, tamper):
    payload = slack_http.command_payload("/news", "wagner")
    body, ctype = slack_http.encode("slash_commands", payload)
    now = int(time.time())
    kwargs: dict = {}
    if tamper == "bad_signature":
        kwargs["signature"] = "v0=" + "0" * 64
    elif tamper == "stale_timestamp":
        kwargs["timestamp"] = now - 6 * 60
        kwargs["signature"] = slack_http.verifier.generate_signature(
            timestamp=str(now - 6 * 60), body=body
        )
    elif tamper == "future_timestamp":
        kwargs["timestamp"] = now + 6 * 60
        kwargs["signature"] = slack_http.verifier.generate_signature(
            timestamp=str(now + 6 * 60), body=body
        )
    elif tamper == "missing_signature":
        kwargs["signature"] = " "
    elif tamper == "body_changed":
        kwargs["signature"] = slack_http.verifier.generate_signature(timestamp=str(now), body=body)
        kwargs["timestamp"] = now
        body = body.replace(b"wagner", b"mali")
    status, _, _ = slack_http.post(body, ctype, **kwargs)
    assert status == 401
    slack_http.assert_quiet(0.3)
    assert fake_slack.posted_to(payload["response_url"]) == []


def test_retry_with_header_is_answered_once(slack_http, fake_slack):
    event = slack_http.message_event("wagner")
    payload = slack_http.event_payload(event, event_id="Ev0HTTPRETRY")
    body, ctype = slack_http.encode("events_api", payload)
    assert slack_http.post(body, ctype)[0] == 200
    fake_slack.wait_for_call("chat.postMessage")
    assert slack_http.post(body, ctype, retry=1)[0] == 200
    assert slack_http.post(body, ctype, retry=2)[0] == 200
    slack_http.assert_quiet()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_url_verification_challenge(slack_http):
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    status, data, _ = slack_http.post(body, "application/json")
    assert status == 200 and b"c-123" in data


def test_healthz_reports_the_archive(slack_http):
    with urlopen(slack_http.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"ok": True, "articles": 2, "passages": 18}


def test_run_serve_http_mode_serves_until_stopped(fake_slack, archive):
    settings = bot_settings(fake_slack, signing_secret=SIGNING_SECRET)
    stop = threading.Event()
    ready: list[str] = []
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_serve(settings, archive, 0, stop=stop, on_ready=ready.append)
        )
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not ready and time.monotonic() < deadline:
        time.sleep(0.02)
    port = int(ready[0].split("port ")[1].split()[0])
    with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        assert resp.status == 200
    stopped = time.monotonic()
    stop.set()
    thread.join(15)
    assert result == [0] and time.monotonic() - stopped < 8


def test_run_serve_socket_mode_connects_and_stops(fake_slack, archive):
    settings = bot_settings(fake_slack, app_token="xapp-1-serve")
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_serve(settings, archive, stop=stop)))
    thread.start()
    fake_slack.wait_connected(timeout=10)
    stop.set()
    thread.join(15)
    assert result == [0]


def test_run_serve_names_missing_settings(fake_slack, archive, capsys):
    assert run_serve(bot_settings(fake_slack), archive) == 2
    err = capsys.readouterr().err
    assert "SLACK_APP_TOKEN" in err and "SLACK_SIGNING_SECRET" in err


def test_run_serve_rejected_token_is_a_clear_error(fake_slack, archive, capsys):
    fake_slack.fail("auth.test", error="invalid_auth")
    settings = bot_settings(fake_slack, signing_secret=SIGNING_SECRET)
    assert run_serve(settings, archive, 0) == 1
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "xoxb-test" not in err
