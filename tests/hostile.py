"""Malformed and hostile Slack requests, for the fuzz test and ``benchmarks/slack_fuzz.py``.

Hypothesis strategies build slash commands, button clicks, Events API bodies and bodies that do
not parse; ``FuzzRun`` sends them, signed, to the bot and counts what Slack (and an operator)
would see: 5xx answers, slow acks, ERROR lines and tracebacks, answers that carry markup the bot
did not write, answers over Block Kit's limits.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

SLOW = 3.0  # seconds: Slack shows the user an error when the ack takes longer
MARKERS = ("<!channel>", "<!here", "<@U0VICTIM>", "<http://evil.test", "<#C0SECRET")
HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<@U0VICTIM>",
    "<#C0SECRET|secret>",
    "<http://evil.test|click>",
    "&lt;!channel&gt; wagner",
    "*bold* _it_ `code`",
    "\x00\x1b[31m\u202e",
    "' OR 1=1; --",
    'NEAR("a" "b") AND title:x*',
]
# Keys Slack sends and the bot reads; values of any JSON type.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31, 2**63, -1, 0, 10**400 // 10**399]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
texts = st.one_of(
    st.text(max_size=80),
    st.sampled_from(HOSTILE),
    st.sampled_from(["wagner", "mali troops", "help", "sources", "digest", ""]),
    st.lists(st.sampled_from([*HOSTILE, "wagner"]), min_size=1, max_size=5).map(" ".join),
    st.just("mali " * 8_000),  # 40,000 characters
)
odd = st.one_of(json_values, texts)


_MISSING = object()


def perturbed(draw: Any, data: dict[str, Any], most: int = 2) -> dict[str, Any]:
    """``data`` with up to ``most`` of its keys given a value of any type, or removed."""
    data = dict(data)
    for key in draw(st.lists(st.sampled_from(sorted(data)), max_size=most, unique=True)):
        data[key] = draw(st.one_of(odd, st.just(_MISSING)))
    return {k: v for k, v in data.items() if v is not _MISSING}


@dataclass(frozen=True)
class Case:
    """One request: the Socket Mode envelope type and payload, and the HTTP body for it."""

    kind: str  # slash_commands, interactive, events_api, raw
    payload: Any
    body: bytes
    content_type: str

    @property
    def note(self) -> str:
        return f"{self.kind}: {self.body[:300]!r}"


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)  # NaN and Infinity stay, as Python's json writes them


@st.composite
def slash_commands(draw, response_urls: st.SearchStrategy) -> Case:
    fields = perturbed(
        draw,
        {
            "command": draw(st.sampled_from(["/news", "/news", "/news", "/zzz"])),
            "text": draw(texts),
            "user_id": "U0REPORTER",
            "channel_id": "C0NEWSROOM",
            "response_url": draw(response_urls),
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "team_id": "TFAKE0001",
        },
    )
    fields = {k: v if isinstance(v, str) else _dumps(v) for k, v in fields.items()}
    body = urlencode(fields).encode()
    return Case("slash_commands", fields, body, "application/x-www-form-urlencoded")


ACTION_IDS = ["more_results", "share_hit", "share_hit:3", "digest_passages", "digest_passages:1"]
button_values = st.one_of(
    st.fixed_dictionaries({}, optional={"q": odd, "o": odd, "p": odd, "s": odd, "a": odd}).map(
        _dumps
    ),
    st.sampled_from(
        [
            '{"q": "mali", "o": 2147483648}',
            '{"q": "mali", "o": NaN}',
            '{"q": "mali", "o": 5}',
            '{"q": "<!channel> mali", "o": 0}',
            '{"p": 3, "s": [[0, 5], [9, 99999999999]], "q": "x"}',
            '{"p": 99999999999999999999999}',
            '{"a": ["1e9999", 1, 2]}',
            '{"a": [1, 2]}',
            "[" * 3_000 + "]" * 3_000,
        ]
    ),
    st.text(max_size=40),
)


@st.composite
def block_actions(draw, response_urls: st.SearchStrategy) -> Case:
    action = perturbed(
        draw,
        {
            "type": "button",
            "action_id": draw(st.one_of(st.sampled_from(ACTION_IDS), st.text(max_size=20))),
            "value": draw(button_values),
            "block_id": "blk",
        },
        most=1,
    )
    payload = perturbed(
        draw,
        {
            "type": draw(st.sampled_from(["block_actions"] * 5 + ["shortcut", "view_submission"])),
            "user": {"id": "U0REPORTER", "team_id": "TFAKE0001"},
            "container": {"channel_id": "C0NEWSROOM", "is_ephemeral": draw(odd)},
            "channel": {"id": "C0NEWSROOM", "name": "newsroom"},
            "trigger_id": f"trig.{uuid.uuid4().hex}",
            "team": {"id": "TFAKE0001"},
            "response_url": draw(response_urls),
            "actions": [action],
        },
    )
    body = urlencode({"payload": _dumps(payload)}).encode()
    return Case("interactive", payload, body, "application/x-www-form-urlencoded")


@st.composite
def events(draw) -> Case:
    kind = draw(st.sampled_from(["message", "message", "app_mention", "reaction_added", "zzz"]))
    subtypes = st.sampled_from(
        ["message_changed", "message_deleted", "file_share", "bot_message", "thread_broadcast"]
    )
    event = {
        "type": kind,
        "text": draw(texts),
        "user": "U0REPORTER",
        "channel": "D0REPORTER" if kind == "message" else "C0NEWSROOM",
        "channel_type": "im" if kind == "message" else "channel",
        "ts": f"{time.time():.6f}",
        "client_msg_id": str(uuid.uuid4()),
    }
    if draw(st.booleans()):
        event["subtype"] = draw(st.one_of(subtypes, odd))
    payload = perturbed(
        draw,
        {
            "type": "event_callback",
            "team_id": "TFAKE0001",
            "api_app_id": "AFAKE0001",
            "event": perturbed(draw, event),
            # a few ids repeat: Slack's retries of the same event
            "event_id": draw(
                st.one_of(st.just(f"Ev{uuid.uuid4().hex[:10].upper()}"), st.just("Ev0DUP1"))
            ),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "TFAKE0001", "user_id": "UBOTFAKE01", "is_bot": True}],
        },
        most=1,
    )
    return Case("events_api", payload, _dumps(payload).encode(), "application/json")


RAW_BODIES = [
    (b"", "application/json"),
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00{}", "application/json"),
    (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    (
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%5B%5D%7D",
        "application/x-www-form-urlencoded",
    ),
    (b"a=1&&b", "application/x-www-form-urlencoded"),
    (b"%%%=%", "application/x-www-form-urlencoded"),
    (
        b'{"type": "event_callback", "event": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        "application/json",
    ),
    (b'{"type": "x", "pad": "' + b"a" * 1_000_000 + b'"}', "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"just a string"', "application/json"),
]


def raw_bodies() -> st.SearchStrategy:
    listed = st.sampled_from(RAW_BODIES)
    junk = st.tuples(
        st.binary(max_size=200),
        st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]),
    )
    garbled = st.builds(lambda t: (t.encode(), "application/json"), json_values.map(_dumps))
    return st.one_of(listed, junk, garbled).map(lambda b: Case("raw", None, b[0], b[1]))


def response_urls(fake: Any) -> st.SearchStrategy:
    """Fresh response_urls of the fake Slack, expired ones, and ones that lead nowhere."""

    def expired() -> str:
        url = fake.response_url()
        fake.expire(url)
        return url

    return st.one_of(
        st.builds(fake.response_url),
        st.builds(fake.response_url),
        st.builds(expired),
        st.sampled_from(["not a url", "http://127.0.0.1:9/refused", "ftp://x.test/"]),
    )


def requests(fake: Any, *, raw: bool = True) -> st.SearchStrategy:
    """Any of the above (``raw``: with bodies that do not parse)."""
    urls = response_urls(fake)
    kinds = [slash_commands(urls), block_actions(urls), events()]
    return st.one_of(*kinds, raw_bodies()) if raw else st.one_of(*kinds)


def wait_until_quiet(fake: Any, quiet: float = 0.5, timeout: float = 20.0) -> None:
    """Until the bot has sent nothing for ``quiet`` seconds (its listeners are done)."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        now = len(fake.calls) + len(fake.posted) + len(fake.response_failures)
        if now == seen:
            return
        seen = now
        time.sleep(quiet)


class _Collect(logging.Handler):
    """ERROR lines and tracebacks (any level) logged anywhere in the process."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.bad.append(f"{record.levelname} {record.name}: {record.getMessage()[:300]}")


class FuzzRun:
    """Sends cases through a driver (HTTP or Socket Mode) and counts what went wrong."""

    def __init__(self, driver: Any, fake: Any) -> None:
        self.driver = driver
        self.fake = fake
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self.errors = _Collect()

    def __enter__(self) -> FuzzRun:
        logging.getLogger().addHandler(self.errors)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.errors)

    def send_http(self, case: Case) -> int:
        status, _, seconds = self.driver.post(case.body, case.content_type)
        self._count(status, seconds, case)
        return status

    def send_socket(self, case: Case) -> None:
        """The case's payload as an envelope; the ack must come (Socket Mode has no 4xx)."""
        if case.kind == "raw":
            return
        started = time.perf_counter()
        eid = self.fake.send_envelope(case.kind, case.payload)
        try:
            self.fake.wait_for_ack(eid, timeout=SLOW + 2)
            status = 200
        except TimeoutError:
            status = 599
        self._count(status, time.perf_counter() - started, case)

    def _count(self, status: int, seconds: float, case: Case) -> None:
        self.counts["requests"] += 1
        self.counts[f"{status // 100}xx"] += 1
        if status >= 500:
            self.problems.append(f"HTTP {status} for {case.note}")
        if seconds >= SLOW:
            self.counts["slow"] += 1
            self.problems.append(f"answered after {seconds:.1f} s: {case.note}")

    def settle(self, app: Any) -> None:
        """Let every listener finish (its log lines are counted too); the app answers no more."""
        wait_until_quiet(self.fake)
        app.listener_runner.listener_executor.shutdown(wait=True)

    def answers(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every message the bot sent: response_url posts, chat.postMessage / postEphemeral."""
        found = [(p.text, p.blocks) for p in self.fake.posted]
        for call in self.fake.calls:
            if call.method in ("chat.postMessage", "chat.postEphemeral"):
                found.append((str(call.params.get("text") or ""), call.blocks))
        return found

    def summary(self) -> dict[str, int]:
        """The counts: requests, 5xx, slow, errors, injections, over-limit."""
        answers = self.answers()
        injected = [a for a in answers if any(m in shown_text(*a) for m in MARKERS)]
        over = [a for a in answers if over_limit(*a)]
        self.problems += [f"foreign markup: {json.dumps(a)[:300]}" for a in injected]
        self.problems += [f"over Block Kit limits: {json.dumps(a)[:300]}" for a in over]
        self.problems += self.errors.bad
        return {
            "requests": self.counts["requests"],
            "4xx": self.counts["4xx"],
            "5xx": self.counts["5xx"],
            "slow": self.counts["slow"],
            "errors": len(self.errors.bad),
            "answers": len(answers),
            "injections": len(injected),
            "over-limit": len(over),
        }


def shown_text(text: str, blocks: Any) -> str:
    """What Slack renders of a message: its text and every ``text`` in its blocks (button
    values are data, not shown)."""
    found = [text]
    stack = [blocks]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            inner = item.get("text")
            if isinstance(inner, str):
                found.append(inner)
            stack.extend(v for k, v in item.items() if k != "value")
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(found)


def over_limit(text: str, blocks: list[dict[str, Any]]) -> bool:
    if len(blocks) > 50 or len(json.dumps(blocks, ensure_ascii=False)) > 13_000:
        return True
    if len(text) > 40_000:
        return True
    for block in blocks:
        inner = block.get("text")
        if isinstance(inner, dict) and len(str(inner.get("text", ""))) > 3_000:
            return True
    return False
