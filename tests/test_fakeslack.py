"""The fake Slack itself, exercised with slack_sdk's real clients and a real WebSocket client."""

from __future__ import annotations

import json
import time

import pytest
from fakeslack import BOT_USER_ID, FakeSlack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect


@pytest.fixture
def fake():
    with FakeSlack() as f:
        yield f


def client(fake: FakeSlack, **kw) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=fake.api_url, **kw)


def test_auth_test_answers_with_bot_identity_and_scopes(fake):
    resp = client(fake).auth_test()
    assert resp["user_id"] == BOT_USER_ID
    assert "chat:write" in resp.headers["x-oauth-scopes"]
    call = fake.calls_to("auth.test")[0]
    assert call.headers["authorization"] == "Bearer xoxb-test-token"


def test_unauthenticated_calls_are_refused(fake):
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "not_authed"


def test_post_message_records_json_params_and_increases_ts(fake):
    c = client(fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    first = c.chat_postMessage(channel="C1", text="one", blocks=blocks)
    second = c.chat_postMessage(channel="C1", text="two", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    calls = fake.calls_to("chat.postMessage")
    assert [c.params["text"] for c in calls] == ["one", "two"]
    assert calls[0].blocks == blocks
    assert calls[1].params["thread_ts"] == first["ts"]


def test_form_encoded_params_are_recorded(fake):
    client(fake).users_info(user="U42")
    assert fake.calls_to("users.info")[0].params == {"user": "U42"}


def test_scripted_error_is_served_once(fake):
    fake.fail("chat.postMessage", error="not_in_channel")
    c = client(fake)
    with pytest.raises(SlackApiError) as err:
        c.chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_in_channel"
    assert c.chat_postMessage(channel="C1", text="x")["ok"]


def test_rate_limit_sends_429_with_retry_after(fake):
    fake.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client(fake, retry_handlers=[]).chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"


def test_rate_limit_is_survived_by_the_retry_handler(fake):
    fake.rate_limit("chat.postMessage", retry_after=0)
    c = client(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert c.chat_postMessage(channel="C1", text="x")["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_server_error_status(fake):
    fake.server_error("chat.update", status=502, times=2)
    c = client(fake, retry_handlers=[])
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            c.chat_update(channel="C1", ts="1.0", text="x")
        assert err.value.response.status_code == 502
    assert c.chat_update(channel="C1", ts="1.0", text="x")["ok"]


def test_wait_for_call_times_out_with_what_was_seen(fake):
    client(fake).auth_test()
    with pytest.raises(TimeoutError, match=r"auth\.test"):
        fake.wait_for_call("chat.postMessage", timeout=0.2)


def test_response_url_records_posts(fake):
    url = fake.response_url()
    other = fake.response_url()
    assert url != other
    WebhookClient(url).send(text="hello", response_type="ephemeral")
    posted = fake.wait_for_posted(url)
    assert posted[0].text == "hello"
    assert posted[0].body["response_type"] == "ephemeral"
    assert fake.posted_to(other) == []


def test_connections_open_needs_an_app_token(fake):
    with pytest.raises(SlackApiError):
        client(fake).apps_connections_open(app_token="xoxb-wrong")
    url = client(fake).apps_connections_open(app_token="xapp-1-fake")["url"]
    assert url == fake.ws_url


def test_socket_mode_hello_envelope_and_ack(fake):
    with connect(fake.ws_url) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello"
        fake.wait_connected()
        eid = fake.send_envelope("slash_commands", {"command": "/news", "text": "mali"})
        envelope = json.loads(ws.recv(timeout=5))
        assert envelope["envelope_id"] == eid
        assert envelope["payload"]["text"] == "mali"
        with pytest.raises(TimeoutError):
            fake.wait_for_ack(eid, timeout=0.2)
        ws.send(json.dumps({"envelope_id": eid, "payload": {"text": "ok"}}))
        assert fake.wait_for_ack(eid)["payload"] == {"text": "ok"}


def test_drop_and_refuse_connections(fake):
    with connect(fake.ws_url) as ws:
        ws.recv(timeout=5)
        fake.wait_connected()
        assert fake.drop_connections() == 1
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    fake.refuse_connections(0.5)
    with pytest.raises(InvalidStatus) as err:
        connect(fake.ws_url)
    assert err.value.response.status_code == 503
    time.sleep(0.6)
    with connect(fake.ws_url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
