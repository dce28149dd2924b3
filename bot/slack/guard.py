"""Thin guards in front of Bolt: bodies that cannot be Slack requests never reach it.

Over HTTP, ``guard_wsgi`` reads the body (bounded), parses it strictly (UTF-8, form or JSON, an
object of a sane shape) and answers anything else with a fast 4xx and one WARNING line, never a
5xx or a traceback. In Socket Mode, ``GuardedSocketModeHandler`` does the same for envelopes (a
bad one is acknowledged, so Slack does not send it again). Both tag every log line with the
request's id for the whole request, so no line carries a previous request's id.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from collections.abc import Callable, Iterable
from time import time
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.logs import log_context, redact, set_log_context
from bot.slack.payload import problem_with, request_id

log = logging.getLogger("newsbot.slack.guard")

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY = 512 * 1024  # a 40,000-character message, its rich_text copy and the envelope fit
MAX_FIELDS = 100
FORM_KEYS = {"command", "payload", "ssl_check"}  # slash commands, interactions, Slack's SSL check


class BadRequest(ValueError):
    def __init__(self, reason: str, status: str = "400 Bad Request") -> None:
        super().__init__(reason)
        self.status = status


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A Slack request body as Bolt will parse it; ``BadRequest`` when it is not one."""
    if not raw.strip():
        raise BadRequest("the body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8") from exc
    try:
        if content_type.split(";")[0].strip() == "application/json" or text.startswith("{"):
            data: Any = json.loads(text)
        else:
            fields = dict(
                parse_qsl(
                    text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS
                )
            )
            if not fields.keys() & FORM_KEYS:
                raise BadRequest("a form body without command, payload or ssl_check")
            data = json.loads(fields["payload"]) if "payload" in fields else fields
    except RecursionError as exc:
        raise BadRequest("the JSON nests too deep") from exc
    except ValueError as exc:
        raise BadRequest(f"the body does not parse ({type(exc).__name__})") from exc
    problem = problem_with(data)
    if problem:
        raise BadRequest(problem)
    return data


def read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise BadRequest("Content-Length is not a number") from exc
    if length > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY} bytes", "413 Content Too Large")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def answer_plain(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


# Ids for log lines until the body's own id is known. A counter, not uuid4: os.urandom releases
# the interpreter lock, and in the ack path under load every release costs a switch interval.
_REQUEST_NUMBERS = itertools.count(1)


def guard_wsgi(bolt: Wsgi) -> Wsgi:
    """Bolt's WSGI app behind a strict parse of each POST body (see the module docstring)."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with log_context("req", f"http-{next(_REQUEST_NUMBERS):x}"):
            if environ.get("REQUEST_METHOD") != "POST":
                return bolt(environ, start_response)
            try:
                raw = read_body(environ)
                body = parse_body(raw, environ.get("CONTENT_TYPE") or "")
            except BadRequest as exc:
                log.warning("rejected a request to %s: %s", environ.get("PATH_INFO"), exc)
                return answer_plain(start_response, exc.status, "Bad Request")
            set_log_context("req", request_id(body))
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            try:
                return list(bolt(environ, start_response))
            except Exception as exc:  # a shape Bolt itself cannot read: the request's fault
                reason = redact(f"{type(exc).__name__}: {exc}")
                log.warning("could not handle a request: %s", reason)
                return answer_plain(start_response, "400 Bad Request", "Bad Request")

    return application


class GuardedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler; an envelope it cannot dispatch is acknowledged and logged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client.message_listeners.append(self._payload_of_no_known_type)

    def _payload_of_no_known_type(
        self, client: BaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        """slack_sdk cannot even build a request from a payload that is neither an object nor a
        string (it logs an ERROR and never acknowledges): acknowledge it here and drop it."""
        payload = message.get("payload", {})
        if "envelope_id" in message and not isinstance(payload, dict | str):
            with log_context("req", str(message["envelope_id"])[:40]):
                log.warning(
                    "acknowledged an envelope it could not handle: the payload is a JSON %s",
                    type(payload).__name__,
                )
            client.send_socket_mode_response(
                SocketModeResponse(envelope_id=str(message["envelope_id"]))
            )
            del message["payload"]  # so slack_sdk sees no request in it

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        envelope = str(req.envelope_id)[:40]
        with log_context("req", envelope):
            problem = problem_with(req.payload)
            if problem is None:
                set_log_context("req", request_id(req.payload))
                try:
                    send_response(client, req, run_bolt_app(self.app, req), time())
                    return
                except Exception as exc:  # a shape Bolt itself cannot read
                    problem = redact(f"{type(exc).__name__}: {exc}")
            log.warning("acknowledged an envelope it could not handle: %s", problem)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
