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


# -- channel history, membership, lost answers --------------------------------------------------
def test_history_serves_posted_messages_newest_first_with_paging(fake):
    c = client(fake)
    meta = {"event_type": "newsbot_digest", "event_payload": {"marker": "m-1"}}
    posted = [c.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(5)]
    tagged = c.chat_postMessage(channel="C1", text="tagged", metadata=meta)["ts"]
    c.chat_postMessage(channel="C2", text="elsewhere")
    c.chat_postMessage(channel="C1", text="reply", thread_ts=posted[0])
    seen, cursor = [], None
    while True:
        page = c.conversations_history(channel="C1", limit=2, cursor=cursor)
        assert len(page["messages"]) <= 2
        seen += page["messages"]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            assert cursor == ""
            break
    assert [m["ts"] for m in seen] == [tagged, *reversed(posted)]
    assert all("metadata" not in m for m in seen)
    with_meta = c.conversations_history(channel="C1", include_all_metadata=True, limit=1)
    assert with_meta["messages"][0]["metadata"] == meta
    newer = c.conversations_history(channel="C1", oldest=posted[3])["messages"]
    assert [m["ts"] for m in newer] == [tagged, posted[4], posted[3]]


def test_kicked_bot_cannot_post_until_invited(fake):
    c = client(fake)
    fake.kick("C1")
    for call in (
        lambda: c.chat_postMessage(channel="C1", text="x"),
        lambda: c.conversations_history(channel="C1"),
    ):
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == "not_in_channel"
    assert c.conversations_info(channel="C1")["channel"]["is_member"] is False
    assert fake.messages_in("C1") == []
    fake.invite("C1")
    c.chat_postMessage(channel="C1", text="x")
    assert [m["text"] for m in fake.messages_in("C1")] == ["x"]


def test_lost_answer_takes_effect_but_the_client_hears_nothing(fake):
    fake.lose_answer("chat.postMessage")
    c = client(fake, retry_handlers=[])
    with pytest.raises(Exception) as err:
        c.chat_postMessage(channel="C1", text="lost")
    assert not isinstance(err.value, SlackApiError)
    assert [m["text"] for m in fake.messages_in("C1")] == ["lost"]
    c.chat_postMessage(channel="C1", text="next")
    assert len(fake.messages_in("C1")) == 2


def test_redelivered_envelope_keeps_its_id_and_every_ack_is_logged(fake):
    with connect(fake.ws_url) as ws:
        ws.recv(timeout=5)
        fake.wait_connected()
        eid = fake.send_envelope("events_api", {"event_id": "Ev1"})
        first = json.loads(ws.recv(timeout=5))
        fake.redeliver(eid)
        again = json.loads(ws.recv(timeout=5))
        assert again["envelope_id"] == first["envelope_id"] == eid
        assert again["payload"] == first["payload"] and again["retry_attempt"] == 1
        for _ in range(2):
            ws.send(json.dumps({"envelope_id": eid}))
        fake.wait_until(lambda: len(fake.ack_log) == 2)
        assert len(fake.acks_of(eid)) == 2


def test_response_url_errors_are_scripted(fake):
    url = fake.response_url()
    fake.response_error(429, retry_after=3)
    fake.response_error(502)
    hook = WebhookClient(url, retry_handlers=[])
    first, second = hook.send(text="a"), hook.send(text="b")
    assert (first.status_code, second.status_code) == (429, 502)
    assert first.headers["Retry-After"] == "3"
    assert hook.send(text="c").status_code == 200
    assert [p.text for p in fake.posted_to(url)] == ["c"]
    assert fake.response_failures == [url.rsplit("/", 1)[1]] * 2
