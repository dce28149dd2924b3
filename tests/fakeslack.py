"""A fake Slack on loopback for end-to-end tests: Web API, response_url and Socket Mode.

One ``FakeSlack`` object serves, on 127.0.0.1 with ports chosen by the OS:

- the Web API at ``/api/<method>`` (form, multipart or JSON bodies), recording every call;
- ``response_url`` endpoints at ``/response/<id>``, recording what was posted there;
- a Socket Mode WebSocket server that says ``hello``, sends envelopes and records the acks.

Faults are scripted per method: ``fail`` (an ``ok: false`` error), ``rate_limit`` (HTTP 429 with
``Retry-After``), ``server_error`` (HTTP 5xx) and ``lose_answer`` (the call takes effect, then the
connection drops before any answer). The Socket Mode side can drop its connections and refuse
new ones for a while.

Channels keep the messages posted with ``chat.postMessage`` (text, blocks, metadata), served by
``conversations.history`` newest first with cursor paging. ``kick(channel)`` takes the bot out of
a channel (posting there answers ``not_in_channel``) and ``invite(channel)`` brings it back.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from websockets.sync.server import Server, ServerConnection, serve

BOT_USER_ID = "UBOTFAKE01"
BOT_ID = "BBOTFAKE01"
TEAM_ID = "TFAKE0001"
APP_ID = "AFAKE0001"
# The fake grants what manifest.json asks for: a scope missing there shows up as missing_scope.
MANIFEST = Path(__file__).resolve().parent.parent / "manifest.json"
DEFAULT_SCOPES = ",".join(json.loads(MANIFEST.read_text("utf-8"))["oauth_config"]["scopes"]["bot"])
HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake received it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


@dataclass(frozen=True)
class Posted:
    """One body posted to a response_url."""

    response_id: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.body.get("blocks") or [])

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")


@dataclass(frozen=True)
class _Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of answers from two workers' listener
    # pools (32 posts at once) overflowed it and the kernel reset connections, which Slack's
    # own servers do not do under such a load (benchmarks/slack_load.py saw 1-6 of 400 answers
    # go to the ephemeral fallback for it).
    request_queue_size = 256
    daemon_threads = True


def response_id(url_or_id: str) -> str:
    """The id of a response_url made by ``FakeSlack.response_url`` (an id stays itself)."""
    return url_or_id.rsplit("/", 1)[-1]


class FakeSlack:
    """Start with ``start()`` (or use as a context manager); stop with ``stop()``."""

    def __init__(self, *, scopes: str = DEFAULT_SCOPES, api_port: int = 0) -> None:
        self.scopes = scopes
        self.api_port = api_port  # 0: the OS picks (a test may need Slack to appear on a port)
        self.calls: list[Call] = []
        self.posted: list[Posted] = []
        self.acks: dict[str, dict[str, Any]] = {}  # the first ack of each envelope
        self.ack_log: list[dict[str, Any]] = []  # every ack, repeats included
        self.sent_envelopes: list[dict[str, Any]] = []
        self.connections_opened = 0
        self.handshakes = 0
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._refuse_until = 0.0
        self._ws_conns: list[ServerConnection] = []
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)  # oldest first
        self.not_member: set[str] = set()
        self.response_failures: list[str] = []  # response ids answered with a scripted error
        self.expired: set[str] = set()  # response ids that answer 404 expired_url
        self._http: ThreadingHTTPServer | None = None
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle_http(self)

            def do_GET(self) -> None:
                fake._handle_http(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = _Server(("127.0.0.1", self.api_port), Handler)
        self._ws = serve(
            self._ws_session,
            "127.0.0.1",
            0,
            process_request=self._ws_gate,
            compression=None,
            ping_interval=None,
        )
        http = self._http
        for target in (lambda: http.serve_forever(poll_interval=0.05), self._ws.serve_forever):
            thread = threading.Thread(target=target, daemon=True, name="fakeslack")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._ws is not None:
            self._ws.shutdown()
            self._ws = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def http_port(self) -> int:
        assert self._http is not None, "FakeSlack is not started"
        return int(self._http.server_address[1])

    @property
    def api_url(self) -> str:
        """The Web API base URL, for ``WebClient(base_url=...)`` (ends with a slash)."""
        return f"http://127.0.0.1:{self.http_port}/api/"

    @property
    def ws_url(self) -> str:
        assert self._ws is not None, "FakeSlack is not started"
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link/?ticket=fake"

    # -- scripted faults -------------------------------------------------------------------
    def fail(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._push(method, _Fault(200, {"ok": False, "error": error}, {}), times)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP 429 with ``Retry-After``."""
        fault = _Fault(
            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
        )
        self._push(method, fault, times)

    def server_error(self, method: str, status: int = 503, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP ``status`` (5xx)."""
        self._push(method, _Fault(status, {"ok": False, "error": "fatal_error"}, {}), times)

    def response_error(self, status: int = 503, times: int = 1, retry_after: int = 0) -> None:
        """The next ``times`` posts to any response_url answer HTTP ``status`` (and are dropped);
        a 429 carries ``Retry-After``."""
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self._push("<response_url>", _Fault(status, {"ok": False}, headers), times)

    def expire(self, url_or_id: str) -> None:
        """The response_url answers HTTP 404 ``expired_url`` from now on, as Slack's do after 30
        minutes (or 5 uses)."""
        with self._cond:
            self.expired.add(response_id(url_or_id))

    def lose_answer(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls take effect, then the connection drops with no answer."""
        self._push(method, _Fault(0, {}, {}), times)

    def _push(self, method: str, fault: _Fault, times: int) -> None:
        with self._cond:
            self._faults[method].extend([fault] * times)

    # -- Web API ---------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``predicate``) have arrived."""

        def matching() -> list[Call]:
            return [
                c for c in self.calls if c.method == method and (predicate is None or predicate(c))
            ]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                got = [c.method for c in self.calls]
                raise TimeoutError(f"expected {count} {method} call(s); calls so far: {got}")
            return matching()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` (evaluated under the fake's lock) is true."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout=timeout):
                raise TimeoutError("condition not met in time")

    def _handle_http(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in req.headers.items()}
        path = req.path.split("?", 1)[0]
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            params = _parse_body(raw, headers.get("content-type", ""))
            if "?" in req.path:
                params.update(dict(parse_qsl(req.path.split("?", 1)[1])))
            status, body, extra = self._api(method, params, headers)
            if status == 0:  # lose_answer: it happened, but the client never hears so
                req.close_connection = True
                with contextlib.suppress(OSError):
                    req.connection.shutdown(socket.SHUT_RDWR)
                return
        elif path.startswith("/response/"):
            response_id = path[len("/response/") :]
            with self._cond:
                queue = self._faults["<response_url>"]
                fault = queue.popleft() if queue else None
                if response_id in self.expired:
                    fault = _Fault(404, {}, {})
                if fault is not None:
                    self.response_failures.append(response_id)
            if fault is not None:
                req.send_response(fault.status)
                for key, value in fault.headers.items():
                    req.send_header(key, value)
                data = b"expired_url" if fault.status == 404 else b""
                req.send_header("Content-Length", str(len(data)))
                req.end_headers()
                req.wfile.write(data)
                return
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                payload = {"_raw": raw.decode("utf-8", "replace")}
            with self._cond:
                self.posted.append(Posted(response_id, payload))
                self._cond.notify_all()
            status, body, extra = 200, "ok", {}
        else:
            status, body, extra = 404, {"ok": False, "error": "unknown_path"}, {}
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req.send_response(status)
        ctype = "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)

    def _api(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._cond:
            self.calls.append(Call(method, params, headers))
            self._cond.notify_all()
            fault = self._faults[method].popleft() if self._faults[method] else None
        if fault is not None and fault.status != 0:
            return fault.status, fault.body, fault.headers
        auth = headers.get("authorization", "")
        if not auth.startswith(("Bearer xox", "Bearer xapp-")):
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method != "apps.connections.open" and auth.startswith("Bearer xapp-"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        answer = handler(params, auth) if handler is not None else (200, {"ok": True}, {})
        return (0, {}, {}) if fault is not None else answer

    def _api_auth_test(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        body = {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Newsroom",
            "user": "newsbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
        return 200, body, {"x-oauth-scopes": self.scopes}

    def _next_ts(self) -> str:
        """Like Slack's: the time of posting in microseconds, unique and increasing."""
        with self._cond:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _api_chat_postMessage(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        channel = params.get("channel")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        with self._cond:
            if channel in self.not_member:
                return 200, {"ok": False, "error": "not_in_channel"}, {}
            ts = self._next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "text": params.get("text", ""),
                "ts": ts,
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
            for key in ("blocks", "metadata"):
                value = params.get(key)
                if isinstance(value, str) and value:
                    value = json.loads(value)
                if value:
                    message[key] = value
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.history[channel].append(message)
            self._cond.notify_all()
        public = {k: v for k, v in message.items() if k != "metadata"}
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": public}, {}

    def _api_conversations_history(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        channel = str(params.get("channel", ""))
        needed = HISTORY_SCOPES.get(channel[:1], "channels:history")
        if needed not in self.scopes.split(","):
            body = {"ok": False, "error": "missing_scope", "needed": needed}
            return 200, {**body, "provided": self.scopes}, {}
        if channel in self.not_member:
            return 200, {"ok": False, "error": "not_in_channel"}, {}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        start = int(str(params.get("cursor") or "o:0").split(":", 1)[1])
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        with self._cond:
            found = [
                m
                for m in reversed(self.history.get(channel, []))
                if oldest <= float(m["ts"]) <= latest and "thread_ts" not in m
            ]
        page = found[start : start + limit]
        if not with_metadata:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        body = {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"o:{start + limit}" if more else ""},
        }
        return 200, body, {}

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages posted in ``channel`` (top level and threads), oldest first."""
        with self._cond:
            return list(self.history.get(channel, []))

    def kick(self, channel: str) -> None:
        """The bot is no longer a member of ``channel``: posting there says ``not_in_channel``."""
        with self._cond:
            self.not_member.add(channel)

    def invite(self, channel: str) -> None:
        """Someone typed ``/invite @newsbot`` in ``channel``."""
        with self._cond:
            self.not_member.discard(channel)

    def _api_chat_postEphemeral(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        return 200, {"ok": True, "message_ts": self._next_ts()}, {}

    def _api_chat_update(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        body = {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        return 200, body, {}

    def _api_conversations_info(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        cid = str(params.get("channel", ""))
        channel = self.channels.get(cid) or {"id": cid, "name": f"chan-{cid.lower()}"}
        member = cid not in self.not_member
        return 200, {"ok": True, "channel": {"is_member": member, **channel}}, {}

    def _api_users_info(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        uid = str(params.get("user", ""))
        user = self.users.get(uid) or {"id": uid, "name": f"user-{uid.lower()}"}
        return 200, {"ok": True, "user": user}, {}

    def _api_apps_connections_open(self, params: dict, auth: str) -> tuple[int, dict, dict]:
        if not auth.startswith("Bearer xapp-"):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        with self._cond:
            self.connections_opened += 1
        return 200, {"ok": True, "url": self.ws_url}, {}

    # -- response_url ----------------------------------------------------------------------
    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/response/r{next(self._ids)}"

    def posted_to(self, url_or_id: str) -> list[Posted]:
        rid = response_id(url_or_id)
        with self._cond:
            return [p for p in self.posted if p.response_id == rid]

    def wait_for_posted(
        self, url_or_id: str, *, count: int = 1, timeout: float = 5.0
    ) -> list[Posted]:
        rid = response_id(url_or_id)
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len([p for p in self.posted if p.response_id == rid]) >= count,
                timeout=timeout,
            )
            got = [p for p in self.posted if p.response_id == rid]
        if not ok:
            raise TimeoutError(f"expected {count} post(s) to {rid}, got {len(got)}")
        return got

    # -- Socket Mode -----------------------------------------------------------------------
    def refuse_connections(self, seconds: float) -> None:
        """Reject WebSocket handshakes (HTTP 503) for ``seconds`` from now."""
        with self._cond:
            self._refuse_until = time.monotonic() + seconds

    def drop_connections(self) -> int:
        """Close every open Socket Mode connection, as Slack does on a refresh or an outage."""
        with self._cond:
            conns, self._ws_conns = list(self._ws_conns), []
        for conn in conns:
            conn.close()
        return len(conns)

    def request_refresh(self) -> int:
        """Send Slack's ``disconnect`` message (``refresh_requested``) on every connection: the
        client is expected to open a new connection and leave the old one."""
        with self._cond:
            conns = list(self._ws_conns)
        message = json.dumps(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}}
        )
        for conn in conns:
            conn.send(message)
        return len(conns)

    @property
    def connected(self) -> int:
        with self._cond:
            return len(self._ws_conns)

    def wait_connected(self, timeout: float = 5.0, *, count: int = 1) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._ws_conns) >= count, timeout=timeout):
                raise TimeoutError("no Socket Mode client connected")

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> str:
        """Send an envelope (slash_commands, events_api, interactive) to the newest connection."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": type != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        self.wait_connected(timeout)
        with self._cond:
            conn = self._ws_conns[-1]
            self.sent_envelopes.append(envelope)
        conn.send(json.dumps(envelope))
        return envelope_id

    def redeliver(self, envelope_id: str, *, retry_reason: str = "timeout") -> str:
        """Send an envelope again, same id and payload, as Slack does when no ack reached it."""
        with self._cond:
            sent = [e for e in self.sent_envelopes if e["envelope_id"] == envelope_id]
        if not sent:
            raise KeyError(f"envelope {envelope_id} was never sent")
        first = sent[0]
        return self.send_envelope(
            first["type"],
            first["payload"],
            envelope_id=envelope_id,
            retry_attempt=len(sent),
            retry_reason=retry_reason,
        )

    def acks_of(self, envelope_id: str) -> list[dict[str, Any]]:
        """Every ack received for ``envelope_id`` (one per delivery that was acknowledged)."""
        with self._cond:
            return [a for a in self.ack_log if a.get("envelope_id") == envelope_id]

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The ack the client sent for ``envelope_id`` (its full JSON message)."""
        with self._cond:
            if not self._cond.wait_for(lambda: envelope_id in self.acks, timeout=timeout):
                raise TimeoutError(f"no ack for envelope {envelope_id}")
            return self.acks[envelope_id]

    def _ws_gate(self, conn: ServerConnection, request: Any) -> Any:
        with self._cond:
            self.handshakes += 1
            refuse = time.monotonic() < self._refuse_until
        if refuse:
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "refusing connections\n")
        return None

    def _ws_session(self, conn: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fakeslack", "approximate_connection_time": 3600},
            "connection_info": {"app_id": APP_ID},
        }
        conn.send(json.dumps(hello))
        with self._cond:
            self._ws_conns.append(conn)
            self._cond.notify_all()
        try:
            for raw in conn:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict) and "envelope_id" in message:
                    with self._cond:
                        self.acks.setdefault(message["envelope_id"], message)
                        self.ack_log.append(message)
                        self._cond.notify_all()
        except Exception:  # a dropped connection ends the session; that is the point of drops
            pass
        finally:
            with self._cond:
                if conn in self._ws_conns:
                    self._ws_conns.remove(conn)
                self._cond.notify_all()


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(raw)
        return dict(data) if isinstance(data, dict) else {"_json": data}
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                out[str(name)] = part.get_content()
        return out
    return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


def iter_blocks_text(blocks: list[dict[str, Any]]) -> Iterator[str]:
    """Every piece of text in a list of blocks, for assertions."""
    for block in blocks:
        for key in ("text",):
            value = block.get(key)
            if isinstance(value, dict):
                yield str(value.get("text", ""))
        for f in block.get("fields") or []:
            yield str(f.get("text", ""))
        for element in block.get("elements") or []:
            text = element.get("text")
            if isinstance(text, dict):
                yield str(text.get("text", ""))
            elif isinstance(text, str):
                yield text
