"""The ack front (``bot.slack.front``) as ``newsbot serve`` runs it in HTTP mode: its own process
on the public port, the bot's server on loopback behind it, signed requests over real HTTP, the
fake Slack recording the answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from conftest import SIGNING_SECRET, HttpDriver, bot_settings
from fakeslack import FakeSlack, iter_blocks_text

from bot.slack.front import FrontProcess
from bot.slack.serve import HttpServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rig:
    """The bot's server on a fixed loopback port (so it can be stopped and started again) and
    the front in front of it."""

    def __init__(self, fake: FakeSlack, archive: Any) -> None:
        from bot.slack.app import LISTENER_NICENESS_BEHIND_FRONT, build_app

        self.archive = archive
        self.app = build_app(
            bot_settings(fake, signing_secret=SIGNING_SECRET),
            archive,
            listener_niceness=LISTENER_NICENESS_BEHIND_FRONT,  # as newsbot serve builds it
        )
        self.bot_port = free_port()
        self.bot: HttpServer | None = None
        self.start_bot()
        self.front = FrontProcess(
            f"http://127.0.0.1:{self.bot_port}",
            SIGNING_SECRET,
            host="127.0.0.1",
            port=0,
            log_level="INFO",
        ).start()
        self.driver = HttpDriver(fake, f"http://127.0.0.1:{self.front.port}")

    def start_bot(self) -> None:
        self.bot = HttpServer(self.app, self.archive, host="127.0.0.1", port=self.bot_port).start()

    def stop_bot(self) -> None:
        assert self.bot is not None
        self.bot.stop()
        self.bot = None

    def close(self) -> None:
        self.front.stop()
        if self.bot is not None:
            self.bot.stop()


@pytest.fixture
def rig(fake_slack: FakeSlack, archive: Any) -> Iterator[Rig]:
    r = Rig(fake_slack, archive)
    yield r
    r.close()


def text_of(posted: Any) -> str:
    return "\n".join([posted.text, *iter_blocks_text(posted.blocks)])


def test_a_command_is_acked_by_the_front_and_answered_once_by_the_bot(rig, fake_slack):
    payload = rig.driver.command_payload("/news", "wagner")
    body, ctype = rig.driver.encode("slash_commands", payload)
    status, data, _ = rig.driver.post(body, ctype)
    assert (status, data) == (200, b"")
    fake_slack.wait_until(lambda: fake_slack.posted_to(payload["response_url"]), timeout=10)
    time.sleep(0.3)
    answers = fake_slack.posted_to(payload["response_url"])
    assert len(answers) == 1 and "*Wagner*" in text_of(answers[0])


def test_an_event_and_its_retry_through_the_front_are_answered_once(rig, fake_slack):
    payload = rig.driver.event_payload(rig.driver.message_event("wagner"), event_id="Ev0FRONT")
    body, ctype = rig.driver.encode("events_api", payload)
    assert rig.driver.post(body, ctype)[0] == 200
    fake_slack.wait_for_call("chat.postMessage")
    assert rig.driver.post(body, ctype, retry=1)[0] == 200
    time.sleep(0.8)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread niceness is Linux's")
def test_behind_the_front_the_searches_run_at_a_lower_priority_than_the_acks(rig, fake_slack):
    """The listener threads (searches, answers) are nicer than the rest of the process, so the
    kernel prefers the front's acks when both want a core; the answers still come."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    executor = rig.app.listener_runner.listener_executor
    niceness = executor.submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ).result(timeout=5)
    assert niceness == min(19, own + 5)
    assert "*Wagner*" in text_of(rig.driver.command("/news", "wagner"))


def test_a_forged_command_is_refused_by_the_front(rig, fake_slack):
    payload = rig.driver.command_payload("/news", "wagner")
    body, ctype = rig.driver.encode("slash_commands", payload)
    status, _, _ = rig.driver.post(body, ctype, signature="v0=" + "0" * 64)
    assert status == 401
    stale = int(time.time()) - 6 * 60
    sig = rig.driver.verifier.generate_signature(timestamp=str(stale), body=body)
    assert rig.driver.post(body, ctype, timestamp=stale, signature=sig)[0] == 401
    time.sleep(0.5)
    assert fake_slack.posted_to(payload["response_url"]) == []


@pytest.mark.parametrize("timestamp", [None, "abc", "-5", ""])
def test_a_command_with_a_missing_or_odd_timestamp_is_refused_by_the_front(
    rig, fake_slack, timestamp
):
    """401, as for a wrong signature (the signature check would raise on a timestamp that is
    not a number: a 500 and a traceback for anyone who sends one)."""
    payload = rig.driver.command_payload("/news", "wagner")
    body, ctype = rig.driver.encode("slash_commands", payload)
    headers = {"Content-Type": ctype, "X-Slack-Signature": "v0=" + "0" * 64}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    url = f"http://127.0.0.1:{rig.front.port}/slack/events"
    with pytest.raises(HTTPError) as refused:
        urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=5)
    assert refused.value.code == 401
    time.sleep(0.3)
    assert fake_slack.posted_to(payload["response_url"]) == []


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"\xff\xfe", "application/json", 400),
        (b'{"type": "event_callback", "event": ', "application/json", 400),
        (b"x" * (600 * 1024), "application/x-www-form-urlencoded", 413),
    ],
    ids=["not-utf8", "bad-json", "too-big"],
)
def test_malformed_bodies_get_a_4xx_from_the_front(rig, body, ctype, status):
    assert rig.driver.post(body, ctype)[0] == status


def test_what_is_answered_in_the_ack_passes_through(rig):
    """URL verification's challenge and the health probes come from the bot, through the front."""
    payload = {"type": "url_verification", "challenge": "c-123", "token": "t"}
    status, data, _ = rig.driver.post(json.dumps(payload).encode(), "application/json")
    assert status == 200 and b"c-123" in data
    with urlopen(rig.driver.url + "/healthz", timeout=5) as resp:
        assert json.loads(resp.read()) == {"ok": True, "articles": 2, "passages": 18}


def test_a_command_acked_while_the_bot_restarts_is_answered_when_it_is_back(rig, fake_slack):
    rig.stop_bot()
    payload = rig.driver.command_payload("/news", "wagner")
    body, ctype = rig.driver.encode("slash_commands", payload)
    assert rig.driver.post(body, ctype)[0] == 200  # the front does not know yet
    time.sleep(1.0)
    rig.start_bot()
    fake_slack.wait_until(lambda: fake_slack.posted_to(payload["response_url"]), timeout=15)
    assert len(fake_slack.posted_to(payload["response_url"])) == 1


def test_while_the_bot_is_down_the_front_answers_503_instead_of_acking(rig, fake_slack):
    rig.stop_bot()
    first = rig.driver.command_payload("/news", "wagner")
    assert rig.driver.post(*rig.driver.encode("slash_commands", first))[0] == 200
    time.sleep(0.5)  # the hand-over failed: the front knows the bot is away
    second = rig.driver.command_payload("/news", "mali")
    assert rig.driver.post(*rig.driver.encode("slash_commands", second))[0] == 503
    assert status_of(rig.driver.url + "/healthz") == 503
    rig.start_bot()
    third = rig.driver.command_payload("/news", "mali")
    assert rig.driver.post(*rig.driver.encode("slash_commands", third))[0] == 200
    fake_slack.wait_until(lambda: fake_slack.posted_to(third["response_url"]), timeout=15)
    assert fake_slack.posted_to(second["response_url"]) == []  # refused, never answered


def status_of(url: str) -> int:
    try:
        with urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except Exception as exc:  # HTTPError carries the status
        return int(getattr(exc, "code", 0))


PARENT = """
import sys, time
from bot.slack.front import FrontProcess
front = FrontProcess("http://127.0.0.1:9", "secret", host="127.0.0.1", port=0, log_level="ERROR")
front.start()
print(front._proc.pid, flush=True)
time.sleep(60)
"""


def test_the_front_exits_when_the_bot_process_is_killed():
    """kill -9 of the bot leaves no front holding its port (a restarted bot starts its own)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLACK_SIGNING_SECRET": "secret"},
    )
    try:
        assert parent.stdout is not None
        front_pid = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(front_pid):
            time.sleep(0.1)
        assert not alive(front_pid)
    finally:
        parent.kill()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_client_stalled_mid_body_does_not_hold_the_front_when_it_stops(rig):
    """SIGTERM: requests in progress get a few seconds, not aiohttp's default minute."""
    stalled = socket.create_connection(("127.0.0.1", rig.front.port))
    try:
        stalled.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"type": '
        )
        time.sleep(0.3)
        started = time.monotonic()
        rig.front.stop()
        assert time.monotonic() - started < 8
    finally:
        stalled.close()
