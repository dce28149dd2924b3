"""``newsbot serve`` as a real process (``python -m bot serve``) in Socket Mode against the fake
Slack, configured only through the environment: stopping on SIGTERM / Ctrl-C, surviving a dropped
or refused connection without answering anything twice, and posting the due digest once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botproc import Proc
from conftest import APP_TOKEN, BOT_TOKEN, SEEDS, SocketModeDriver
from fakeslack import FakeSlack
from test_slack_socket import text_of

from bot.digest.delivery import digest_marker

REPO = Path(__file__).resolve().parent.parent
DESK = "C0DESK0001"
STOP_WITHIN = 20.0  # seconds from signal to exit: usually about 4 (Socket Mode closes in ~3), kept
# loose for a loaded CI machine; what matters is no hang within systemd's 90 s stop timeout


class BotProcess(Proc):
    """A ``python -m bot serve`` child whose output is collected as it runs."""

    def __init__(self, fake: FakeSlack, home: Path, **env: str) -> None:
        self.fake = fake
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGEST_"))},
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "NEWSBOT_DB": str(home / "db" / "newsbot.db"),
            "NEWSBOT_ARTICLES_DIR": str(home / "articles"),
            "NEWSBOT_RESCAN_MINUTES": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONFAULTHANDLER": "1",  # a stack dump of every thread if it must be aborted
            **env,
        }
        super().__init__(home, full_env, "serve")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while "connected to Slack in Socket Mode" not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the bot did not start:\n{self.output}")
            time.sleep(0.05)
        self.fake.wait_connected(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``sig``; returns (exit code, seconds until the process was gone)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # A hang: SIGABRT makes the child (PYTHONFAULTHANDLER) print every thread's stack.
            self.proc.send_signal(signal.SIGABRT)
            self.proc.wait(10)
            self._reader.join(5)
            raise AssertionError(f"no exit 60 s after {sig!r}; threads:\n{self.output}") from None
        took = time.monotonic() - started
        self._reader.join(5)
        return code, took


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "articles").mkdir()
    for seed in SEEDS.glob("*.txt"):
        (tmp_path / "articles" / seed.name).write_bytes(seed.read_bytes())
    return tmp_path


@pytest.fixture
def start_bot(fake_slack: FakeSlack, home: Path) -> Iterator:
    started: list[BotProcess] = []

    def start(**env: str) -> BotProcess:
        bot = BotProcess(fake_slack, home, **env)
        started.append(bot)
        bot.wait_ready()
        return bot

    yield start
    for bot in started:
        bot.kill()


def wait_for_line(bot: BotProcess, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in bot.output:
        assert time.monotonic() < deadline, f"no {text!r} in:\n{bot.output}"
        time.sleep(0.05)


def assert_no_secrets(output: str) -> None:
    for secret in (BOT_TOKEN, APP_TOKEN, "test-bot-token", "test-app-token"):
        assert secret not in output


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl-c"])
def test_signal_finishes_work_in_flight_closes_the_connection_and_exits_0(
    start_bot, fake_slack, sig
):
    bot = start_bot()
    slack = SocketModeDriver(fake_slack)
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))
    # A command acked just before the signal is still answered, once.
    payload = slack.command_payload("/news", "mali")
    fake_slack.wait_for_ack(fake_slack.send_envelope("slash_commands", payload))
    opened = fake_slack.connections_opened
    code, took = bot.stop(sig)
    assert code == 0, bot.output
    assert took < STOP_WITHIN, (took, bot.output)
    assert len(fake_slack.posted_to(payload["response_url"])) == 1
    assert fake_slack.connected == 0
    time.sleep(0.5)
    assert fake_slack.connections_opened == opened  # it did not reconnect on its way out
    assert "Traceback" not in bot.output and " WARNING " not in bot.output, bot.output
    assert_no_secrets(bot.output)


def test_dropped_and_refused_connection_reconnects_and_answers_nothing_twice(start_bot, fake_slack):
    bot = start_bot()
    slack = SocketModeDriver(fake_slack)
    command = slack.command_payload("/news", "wagner")
    asked = fake_slack.send_envelope("slash_commands", command)
    fake_slack.wait_for_posted(command["response_url"])
    dm_event = slack.message_event("mali troops")
    dm = slack.event_payload(dm_event)
    dm_envelope = fake_slack.send_envelope("events_api", dm)
    fake_slack.wait_for_call("chat.postMessage")
    fake_slack.wait_until(lambda: len(fake_slack.acks_of(dm_envelope)) == 1)

    # Slack goes away and refuses connections for longer than one check interval (5 s).
    handshakes, opened = fake_slack.handshakes, fake_slack.connections_opened
    fake_slack.refuse_connections(6.0)
    assert fake_slack.drop_connections() == 1
    fake_slack.wait_until(lambda: fake_slack.connected == 1, timeout=30)
    assert fake_slack.handshakes >= handshakes + 2  # at least one refused, then accepted
    assert fake_slack.connections_opened > opened

    # Slack never got those acks, so it sends both again after the reconnect.
    for envelope_id in (asked, dm_envelope):
        fake_slack.redeliver(envelope_id)
        fake_slack.wait_until(lambda e=envelope_id: len(fake_slack.acks_of(e)) == 2)
    slack.assert_quiet()
    assert len(fake_slack.posted_to(command["response_url"])) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1

    # Slack asking for a refresh (its ``disconnect`` message) is followed at once.
    opened = fake_slack.connections_opened
    assert fake_slack.request_refresh() == 1
    fake_slack.wait_until(lambda: fake_slack.connections_opened > opened, timeout=3)
    fake_slack.wait_until(lambda: fake_slack.connected == 1, timeout=5)
    assert "*Wagner*" in text_of(slack.command("/news", "wagner"))
    assert "*Mali*" in text_of(slack.dm("mali troops"))
    code, _ = bot.stop()
    assert code == 0, bot.output
    assert_no_secrets(bot.output)


def test_serve_posts_the_due_digest_once_across_a_restart(start_bot, fake_slack):
    env = {
        "DIGEST_CHANNEL": DESK,
        "DIGEST_TIME": "00:00",
        "DIGEST_DAYS": "*",
        "DIGEST_TIMEZONE": "UTC",
    }
    for _ in range(2):
        bot = start_bot(**env)
        wait_for_line(bot, "digest catch-up: running the digest of")
        fake_slack.wait_until(lambda: len(fake_slack.messages_in(DESK)) >= 1, timeout=30)
        code, took = bot.stop()  # a digest run in progress finishes before the exit
        assert code == 0 and took < STOP_WITHIN, (code, took, bot.output)
    today = datetime.now(UTC).date()
    [digest] = fake_slack.messages_in(DESK)
    assert digest["metadata"]["event_payload"] == {"marker": digest_marker(DESK, today)}
    assert "France has withdrawn its last troops from Mali" in digest["text"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
