"""Shared fixtures: a real archive over the seeds, the fake Slack, and the real bot talking to it.

``slack`` runs the bot in Socket Mode (Bolt's SocketModeHandler against the fake's WebSocket);
``slack_http`` serves it over HTTP with waitress and sends signed requests. Both offer the same
conversation-style API, in the spirit of errbot's testbot::

    reply = slack.command("/news", "wagner")      # what the bot posted to the response_url
    reply = slack.dm("mali troops")               # the chat.postMessage in the DM
    reply = slack.mention("mercenaries")          # the threaded chat.postMessage
    after = slack.click(button)                   # the next thing the bot did
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from hypothesis import settings as hypothesis_settings
from slack_sdk.signature import SignatureVerifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakeslack import APP_ID, BOT_USER_ID, TEAM_ID, Call, FakeSlack, Posted

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

# CI runs the property tests with a fixed seed, so a red build is reproducible and never random;
# locally they explore new examples each run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
USER = "U0REPORTER"
CHANNEL = "C0NEWSROOM"
DM_CHANNEL = "D0REPORTER"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Any]:
    """The real archive over a private copy of seeds/, ingested."""
    from bot.archive import Archive
    from bot.settings import Settings

    shutil.copytree(SEEDS, tmp_path / "seeds")
    arch = Archive.open(
        Settings(db_path=tmp_path / "db" / "newsbot.db", articles_dir=tmp_path / "seeds")
    )
    arch.ingest()
    yield arch
    arch.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    """An empty SQLite store in a fresh database."""
    from bot.store import Store

    s = Store.open(tmp_path / "news.db")
    yield s
    s.close()


# -- PostgreSQL: the real server, a fresh database per test run and a fresh schema per test ------
PG_URL = os.environ.get("NEWSBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL not reachable at {PG_URL}: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of its own for this test run (other runs may share the server); dropped after."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        _pg_unavailable(f"psycopg missing ({exc})")
        raise
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        _pg_unavailable(str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer")
        raise
    name = f"newsbot_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema (dropped after the test)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{pg_database}?options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty store on each back-end: the store test suite runs against both."""
    from bot.store import open_store

    target = (
        tmp_path / "news.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    )
    s = open_store(target)
    yield s
    s.close()


def archive_of(root: Path, articles: dict[str, str]) -> Any:
    """An archive of ``articles`` (file name -> text) written under ``root``, ingested cleanly."""
    from bot.archive import Archive
    from bot.settings import Settings

    folder = root / "news"
    folder.mkdir()
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    a = Archive.open(Settings(db_path=root / "n.db", articles_dir=folder))
    report = a.ingest()
    assert not report.skipped, report.skipped
    return a


T = TypeVar("T")
R = TypeVar("R")


def all_at_once(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn(item)`` for each item, each in its own thread, all released at the same moment (a
    barrier) to race each other; their results in the order of ``items``."""
    work = list(items)
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int, item: T) -> None:
        barrier.wait()
        results[i] = fn(item)

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def article(title: str, *paragraphs: str) -> Any:
    """An ``Article`` at /a/TITLE.txt with these paragraphs (one made-up one when none)."""
    from bot.models import Article

    return Article(f"/a/{title}.txt", title, paragraphs or (f"{title} body.",), dek="dek")


def titles(archive: Any, query: str) -> list[str]:
    """The titles of a search's hits, best first."""
    return [h.article.title for h in archive.search(query).hits]


def add_article(store: Any, title: str) -> None:
    """One article with a one-sentence body, first seen now."""
    from bot.models import Article

    path = f"/a/{title}.txt"
    with store.transaction():
        store.upsert_article(path, Article(path, title, (f"{title} body.",)), 1, 1, title)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def bot_settings(fake: FakeSlack, **kw: Any) -> Any:
    from bot.settings import Settings

    base = {"bot_token": BOT_TOKEN, "slack_api_url": fake.api_url, "rescan_minutes": 0}
    return Settings(**{**base, **kw})


def find_button(blocks: list[dict[str, Any]], action_id_prefix: str) -> dict[str, Any]:
    """The first button whose action_id starts with ``action_id_prefix``."""
    for block in blocks:
        for element in [block.get("accessory") or {}, *(block.get("elements") or [])]:
            if element.get("type") == "button" and element["action_id"].startswith(
                action_id_prefix
            ):
                return element
    raise AssertionError(f"no {action_id_prefix} button in {json.dumps(blocks)[:500]}")


class SlackDriver:
    """Sends what Slack would send and returns what the bot did about it."""

    _ts = itertools.count(1)

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake

    # transport: implemented by the Socket Mode and HTTP drivers
    def deliver(self, kind: str, payload: dict[str, Any], *, retry: int = 0) -> Any:
        raise NotImplementedError

    # -- payloads ------------------------------------------------------------------------------
    def command_payload(self, command: str, text: str, **kw: Any) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": kw.get("channel", CHANNEL),
            "channel_name": "newsroom",
            "user_id": kw.get("user", USER),
            "user_name": "reporter",
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": kw.get("response_url") or self.fake.response_url(),
            "trigger_id": f"trig.{uuid.uuid4().hex}",
        }

    def event_payload(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    def message_event(self, text: str, **kw: Any) -> dict[str, Any]:
        ts = kw.pop("ts", None) or f"{1_800_000_000 + next(self._ts)}.000200"
        event = {
            "type": "message",
            "channel": DM_CHANNEL,
            "user": USER,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im",
            "client_msg_id": str(uuid.uuid4()),
        }
        event.update(kw)
        return {k: v for k, v in event.items() if v is not None}

    # -- conversation API ----------------------------------------------------------------------
    def command(self, command: str, text: str = "", **kw: Any) -> Posted:
        payload = self.command_payload(command, text, **kw)
        self.last_ack = self.deliver("slash_commands", payload)
        return self.fake.wait_for_posted(payload["response_url"])[0]

    def send_event(self, event: dict[str, Any], event_id: str | None = None, retry: int = 0):
        return self.deliver("events_api", self.event_payload(event, event_id), retry=retry)

    def _wait_new_post(self, before: int, channel: str, timeout: float = 5.0) -> Call:
        calls = self.fake.wait_for_call(
            "chat.postMessage",
            lambda c: c.params.get("channel") == channel,
            count=before + 1,
            timeout=timeout,
        )
        return calls[before]

    def _posts_to(self, channel: str) -> int:
        return len(
            [
                c
                for c in self.fake.calls_to("chat.postMessage")
                if c.params.get("channel") == channel
            ]
        )

    def dm(self, text: str, **kw: Any) -> Call:
        event = self.message_event(text, **kw)
        before = self._posts_to(event["channel"])
        self.send_event(event)
        return self._wait_new_post(before, event["channel"])

    def mention(self, text: str, **kw: Any) -> Call:
        event = self.message_event(f"<@{BOT_USER_ID}> {text}", channel=CHANNEL, **kw)
        event["type"] = "app_mention"
        event.pop("channel_type", None)
        before = self._posts_to(event["channel"])
        self.send_event(event)
        return self._wait_new_post(before, event["channel"])

    def click(
        self,
        button: dict[str, Any],
        *,
        channel: str = CHANNEL,
        ephemeral: bool = True,
        user: str = USER,
        response_url: str | None = None,
        wait_for: str = "any",
    ) -> Posted | Call:
        """Click a button from a reply's blocks; returns the next post: to the response_url,
        to the channel (chat.postMessage), or either (``wait_for``: response, post, any)."""
        response_url = response_url or self.fake.response_url()
        payload = self.click_payload(
            button, channel=channel, ephemeral=ephemeral, user=user, response_url=response_url
        )
        posts_before = self._posts_to(channel)
        self.last_ack = self.deliver("interactive", payload)
        fake = self.fake
        found: list[Posted | Call] = []

        def happened() -> bool:
            posted = fake.posted_to(response_url) if wait_for != "post" else []
            if posted:
                found.append(posted[0])
                return True
            calls = [
                c
                for c in fake.calls
                if c.method == "chat.postMessage" and c.params.get("channel") == channel
            ]
            if wait_for != "response" and len(calls) > posts_before:
                found.append(calls[posts_before])
                return True
            return False

        fake.wait_until(happened, timeout=5.0)
        return found[0]

    def click_payload(
        self,
        button: dict[str, Any],
        *,
        channel: str = CHANNEL,
        ephemeral: bool = True,
        user: str = USER,
        response_url: str | None = None,
        message_ts: str = "1700000000.000100",
    ) -> dict[str, Any]:
        """The block_actions payload Slack sends for one click on ``button``."""
        return {
            "type": "block_actions",
            "user": {"id": user, "username": "reporter", "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "channel": {"id": channel, "name": "newsroom"},
            "response_url": response_url or self.fake.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "blk",
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    def assert_quiet(self, seconds: float = 0.5) -> None:
        """Nothing new was posted anywhere for ``seconds``."""
        posts, calls = len(self.fake.posted), len(self.fake.calls_to("chat.postMessage"))
        time.sleep(seconds)
        assert len(self.fake.posted) == posts, self.fake.posted[posts:]
        assert len(self.fake.calls_to("chat.postMessage")) == calls


class SocketModeDriver(SlackDriver):
    def deliver(self, kind: str, payload: dict[str, Any], *, retry: int = 0) -> dict[str, Any]:
        eid = self.fake.send_envelope(
            kind, payload, retry_attempt=retry, retry_reason="timeout" if retry else ""
        )
        return self.fake.wait_for_ack(eid)


def sign(timestamp: str, body: bytes, secret: str = SIGNING_SECRET) -> str:
    """Slack's request signature, over any bytes (slack_sdk's wants a UTF-8 body)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class HttpDriver(SlackDriver):
    def __init__(self, fake: FakeSlack, url: str, secret: str = SIGNING_SECRET) -> None:
        super().__init__(fake)
        self.url = url
        self.secret = secret
        self.verifier = SignatureVerifier(secret)

    def encode(self, kind: str, payload: dict[str, Any]) -> tuple[bytes, str]:
        if kind == "slash_commands":
            return urlencode(payload).encode(), "application/x-www-form-urlencoded"
        if kind == "interactive":
            body = urlencode({"payload": json.dumps(payload)})
            return body.encode(), "application/x-www-form-urlencoded"
        return json.dumps(payload).encode(), "application/json"

    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry: int = 0,
    ) -> tuple[int, bytes, float]:
        """POST to /slack/events; returns (status, body, seconds until the answer)."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or sign(ts, body, self.secret)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
        }
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        req = Request(self.url + "/slack/events", data=body, headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urlopen(req, timeout=10) as resp:
                return resp.status, resp.read(), time.perf_counter() - started
        except Exception as exc:  # HTTPError carries the status
            code = getattr(exc, "code", None)
            if code is None:
                raise
            return int(code), exc.read(), time.perf_counter() - started  # type: ignore[attr-defined]

    def deliver(self, kind: str, payload: dict[str, Any], *, retry: int = 0) -> dict[str, Any]:
        body, ctype = self.encode(kind, payload)
        status, data, took = self.post(body, ctype, retry=retry)
        assert status == 200, (status, data)
        return {"status": status, "body": data, "seconds": took}


@pytest.fixture
def slack(fake_slack: FakeSlack, archive: Any) -> Iterator[SocketModeDriver]:
    """The real bot in Socket Mode, connected to the fake Slack."""
    from bot.slack.app import build_app
    from bot.slack.guard import GuardedSocketModeHandler

    app = build_app(bot_settings(fake_slack, app_token=APP_TOKEN), archive)
    handler = GuardedSocketModeHandler(app, APP_TOKEN, ping_interval=1)
    handler.connect()
    fake_slack.wait_connected()
    driver = SocketModeDriver(fake_slack)
    driver.app = app  # type: ignore[attr-defined]
    driver.handler = handler  # type: ignore[attr-defined]
    yield driver
    # SocketModeClient.close() waits out its 3 s socket read timeout; the fake is closing its
    # side anyway, so let it finish in the background rather than stall every test.
    threading.Thread(target=handler.close, daemon=True).start()


@pytest.fixture
def slack_http(fake_slack: FakeSlack, archive: Any) -> Iterator[HttpDriver]:
    """The real bot in HTTP mode, served by waitress on a free port, with signed requests."""
    from bot.slack.app import build_app
    from bot.slack.serve import HttpServer

    app = build_app(bot_settings(fake_slack, signing_secret=SIGNING_SECRET), archive)
    server = HttpServer(app, archive, host="127.0.0.1", port=0).start()
    driver = HttpDriver(fake_slack, server.url)
    driver.app = app  # type: ignore[attr-defined]
    yield driver
    server.stop()
