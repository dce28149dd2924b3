"""The ack front: a small process that answers Slack's HTTP requests apart from the searches.

Slack waits at most 3 s for the HTTP answer (the ack) to a slash command, a click or an event.
Inside the bot's process every ack competes for the interpreter lock with the searches and
answers being made; under a burst, acks waited behind them (``benchmarks/slack_load.py``: ack p50
about 150 ms, p99 250-700 ms with 20 senders on 2 cores, while the same server's ``/healthz``
answered in 15-30 ms). So ``newsbot serve`` in HTTP mode runs this front on the public port, in its
own process, and the bot behind it on loopback:

- a slash command, a ``block_actions`` click or an ``event_callback`` is checked (the guard's
  strict parse, then the Slack signature), acked with an empty 200 at once (exactly what the bot
  acks them with), and handed to the bot by a few forwarding threads over keep-alive connections;
  the bot checks the signature again and answers through ``response_url`` or the Web API;
- everything else (URL verification, SSL check, view submissions, shortcuts, health probes) is
  passed to the bot and its answer passed back, because its answer is in the ack.

A request the bot cannot take (its process is down or restarting) is retried for a while, then
dropped with one WARNING line. Once the bot has failed to answer, the front stops acking on its
behalf and passes each request through until the bot answers again: Slack then gets the bot's
own answer, or a 503 (it retries events; a user sees that the command failed), never an ack into
a void.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bot.logs import log_context, redact, set_log_context, setup_logging
from bot.slack.guard import BadRequest, answer_plain, parse_body, read_body
from bot.slack.payload import acked_before_listener, request_id
from bot.slack.waitress_loop import serve_until

log = logging.getLogger("newsbot.slack.front")

EVENTS_PATH = "/slack/events"
FORWARDERS = 16
MAX_BACKLOG = 5_000  # requests acked and not yet handed over; beyond it the front answers 503
GIVE_UP_AFTER = 30.0  # seconds of retrying one hand-over before it is dropped
# Headers the bot needs to check and dedupe a request (Bolt verifies the signature again).
PASSED_HEADERS = (
    "Content-Type",
    "X-Slack-Request-Timestamp",
    "X-Slack-Signature",
    "X-Slack-Retry-Num",
    "X-Slack-Retry-Reason",
)

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def acked_here(body: dict[str, Any]) -> bool:
    """Requests the bot acks with an empty body before any work: the front may ack them
    (events are acked so by Bolt itself)."""
    return acked_before_listener(body) or body.get("type") == "event_callback"


class Upstream:
    """The bot's HTTP server on loopback, one keep-alive connection per thread."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._local = threading.local()
        self.away = False  # the last request found the bot not answering

    def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request; reconnects once when a kept-alive connection was closed meanwhile."""
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                conn.request(method, path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    self.away = True
                    raise
                continue
            self.away = False
            return resp.status, resp.reason, resp.getheaders(), data
        raise AssertionError("unreachable")


class Forwarder:
    """Hands acked requests to the bot from a bounded queue, retrying while it is away."""

    def __init__(self, upstream: Upstream, threads: int = FORWARDERS) -> None:
        self.upstream = upstream
        self._queue: queue.Queue[tuple[str, bytes, dict[str, str]]] = queue.Queue(MAX_BACKLOG)
        self._threads = [
            threading.Thread(target=self._run, name=f"newsbot-forward-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, rid: str, body: bytes, headers: dict[str, str]) -> bool:
        """False when the backlog is full (the caller answers 503)."""
        try:
            self._queue.put_nowait((rid, body, headers))
        except queue.Full:
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Hand over what is queued (bounded); the threads end with the process."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._queue.unfinished_tasks:
            log.warning(
                "stopped with %d acked requests not handed to the bot",
                self._queue.unfinished_tasks,
            )

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                rid, body, headers = item
                set_log_context("req", rid)
                self._hand_over(body, headers)
            finally:
                self._queue.task_done()

    def _hand_over(self, body: bytes, headers: dict[str, str]) -> None:
        started, delay = time.monotonic(), 0.1
        while True:
            try:
                status, _, _, _ = self.upstream.request("POST", EVENTS_PATH, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                if time.monotonic() - started + delay > GIVE_UP_AFTER:
                    log.warning(
                        "dropped an acked request: the bot did not take it within %.0f s (%s);"
                        " check that the newsbot process is running",
                        GIVE_UP_AFTER,
                        type(exc).__name__,
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if status >= 400:
                log.warning("the bot refused an acked request with HTTP %d", status)
            return


def front_wsgi(upstream: Upstream, forwarder: Forwarder, signing_secret: str) -> Wsgi:
    """The public WSGI app: ack what may be acked here, pass the rest to the bot."""
    verifier = SignatureVerifier(signing_secret)

    def passed(environ: dict[str, Any]) -> dict[str, str]:
        headers = {}
        for name in PASSED_HEADERS:
            key = name.upper().replace("-", "_")
            value = environ.get(key if name == "Content-Type" else "HTTP_" + key)
            if value:
                headers[name] = value
        return headers

    def relay(
        start_response: Callable[..., Any], method: str, path: str, body: bytes, headers: dict
    ) -> list[bytes]:
        try:
            status, reason, got, data = upstream.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            log.warning("the bot did not answer a %s %s (%s)", method, path, type(exc).__name__)
            data = json.dumps({"ok": False, "error": "the bot process does not answer"}).encode()
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            )
            return [data]
        kept = [(k, v) for k, v in got if k.lower() in ("content-type", "retry-after")]
        start_response(f"{status} {reason}", [*kept, ("Content-Length", str(len(data)))])
        return [data]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        with log_context("req", "front"):
            if method != "POST" or path != EVENTS_PATH:
                return relay(start_response, method, path, b"", {})
            try:
                raw = read_body(environ)
                body = parse_body(raw, environ.get("CONTENT_TYPE") or "")
            except BadRequest as exc:
                log.warning("rejected a request to %s: %s", path, exc)
                return answer_plain(start_response, exc.status, "Bad Request")
            rid = request_id(body)
            set_log_context("req", rid)
            headers = passed(environ)
            if not acked_here(body):
                return relay(start_response, method, path, raw, headers)
            if not verifier.is_valid(
                raw,
                headers.get("X-Slack-Request-Timestamp", ""),
                headers.get("X-Slack-Signature", ""),
            ):
                log.info("rejected a request with a missing, stale or wrong signature")
                return answer_plain(start_response, "401 Unauthorized", "invalid request")
            if upstream.away:
                # the bot did not answer lately: pass this one through, so that its answer (or
                # a 503 Slack will retry) is what Slack gets, and a success ends the outage
                return relay(start_response, method, path, raw, headers)
            if not forwarder.submit(rid, raw, headers):
                log.warning("answered 503: %d acked requests wait for the bot", MAX_BACKLOG)
                return answer_plain(start_response, "503 Service Unavailable", "try again shortly")
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]

    return application


class FrontProcess:
    """Runs the front as a child process (``python -m bot.slack.front``) and keeps it running:
    a front that dies is started again (one line, then backoff). ``port`` 0 picks a free port."""

    def __init__(
        self, upstream_url: str, signing_secret: str, *, host: str, port: int, log_level: str
    ) -> None:
        self.upstream_url = upstream_url
        self.host, self.port = host, port
        self._env = {**os.environ, "SLACK_SIGNING_SECRET": signing_secret}
        self._log_level = log_level
        self._proc: subprocess.Popen[str] | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> FrontProcess:
        self._spawn(timeout)
        self._watch = threading.Thread(target=self._supervise, name="newsbot-front", daemon=True)
        self._watch.start()
        return self

    def _spawn(self, timeout: float) -> None:
        args = [
            sys.executable,
            "-m",
            "bot.slack.front",
            "--upstream",
            self.upstream_url,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--log-level",
            self._log_level,
        ]
        proc = subprocess.Popen(args, env=self._env, stdout=subprocess.PIPE, text=True)
        line = _read_line(proc, timeout)
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"the HTTP front did not start on {self.host}:{self.port}")
        self.port = int(line.split()[1])  # a restart binds the same port again
        self._proc = proc

    def _supervise(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            proc = self._proc
            if proc is None or proc.poll() is None:
                self._stop.wait(0.5)
                continue
            print(
                f"newsbot serve: the HTTP front exited (code {proc.returncode}); starting it again",
                file=sys.stderr,
                flush=True,
            )
            if self._stop.wait(delay):
                return
            try:
                self._spawn(30.0)
                delay = 1.0
            except (OSError, RuntimeError) as exc:
                log.warning("could not start the HTTP front again: %s", redact(str(exc)))
                delay = min(delay * 2, 60.0)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: the front stops accepting, hands over what it acked, then exits."""
        self._stop.set()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    got: list[str] = []
    reader = threading.Thread(
        target=lambda: got.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.slack.front", description=__doc__)
    parser.add_argument("--upstream", required=True, help="the bot's HTTP server (loopback URL)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--log-level", default="WARNING")
    ns = parser.parse_args(argv)
    setup_logging(ns.log_level)
    # A queue of requests waiting for a thread is this process's normal state in a burst: each
    # waits well under a millisecond of work, so waitress's warning about it is noise here.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not secret:
        print("newsbot front: SLACK_SIGNING_SECRET is not set", file=sys.stderr)
        return 2
    upstream = Upstream(ns.upstream)
    forwarder = Forwarder(upstream)
    try:
        server = create_server(
            front_wsgi(upstream, forwarder, secret),
            host=ns.host,
            port=ns.port,
            threads=ns.threads,
            ident="newsbot",
        )
    except OSError as exc:
        print(f"newsbot front: cannot listen on {ns.host}:{ns.port} ({exc})", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"PORT {server.effective_port}", flush=True)  # type: ignore[union-attr]
    parent = os.getppid()

    def done() -> bool:
        if os.getppid() != parent:  # the bot is gone (even by kill -9): stop acking for it
            log.warning("the bot process exited; the HTTP front stops")
            return True
        return stop.is_set()

    serve_until(server, done)
    forwarder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
