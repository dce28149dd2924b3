"""The ack front: a small process that answers Slack's HTTP requests apart from the searches.

Slack waits at most 3 s for the HTTP answer (the ack) to a slash command, a click or an event.
Inside the bot's process every ack competes for the interpreter lock with the searches and
answers being made; under a burst, acks waited behind them (``benchmarks/slack_load.py``: ack p50
about 150 ms, p99 250-700 ms with 20 senders on 2 cores, while the same server's ``/healthz``
answered in 15-30 ms). So ``newsbot serve`` in HTTP mode runs this front on the public port, in its
own process, and the bot behind it on loopback:

- a slash command, a ``block_actions`` click or an ``event_callback`` is checked (the guard's
  strict parse, then the Slack signature), acked with an empty 200 at once (exactly what the bot
  acks them with), and handed to the bot by a few forwarding tasks over keep-alive connections;
  the bot checks the signature again and answers through ``response_url`` or the Web API;
- everything else (URL verification, SSL check, view submissions, shortcuts, health probes) is
  passed to the bot and its answer passed back, because its answer is in the ack.

It is one asyncio loop (aiohttp, whose HTTP parser is compiled): a request is read, checked and
acked on the thread that received it. A threaded server hands each request from its socket
thread to a worker thread and back, and under load each hand-over can wait a switch interval
for the interpreter lock; those waits were most of the front's p99.

A request the bot cannot take (its process is down or restarting) is retried for a while, then
dropped with one WARNING line. Once the bot has failed to answer, the front stops acking on its
behalf and passes each request through until the bot answers again: Slack then gets the bot's
own answer, or a 503 (it retries events; a user sees that the command failed), never an ack into
a void.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from slack_sdk.signature import SignatureVerifier

from bot.logs import redact, set_log_context, setup_logging
from bot.slack.guard import MAX_BODY, BadRequest, parse_body
from bot.slack.payload import acked_before_listener, request_id

log = logging.getLogger("newsbot.slack.front")

EVENTS_PATH = "/slack/events"
FORWARDERS = 8
MAX_BACKLOG = 5_000  # requests acked and not yet handed over; beyond it the front answers 503
GIVE_UP_AFTER = 30.0  # seconds of retrying one hand-over before it is dropped
SHUTDOWN_WITHIN = 3.0  # seconds for requests in progress to finish when the front stops
# Headers the bot needs to check and dedupe a request (Bolt verifies the signature again).
PASSED_HEADERS = (
    "Content-Type",
    "X-Slack-Request-Timestamp",
    "X-Slack-Signature",
    "X-Slack-Retry-Num",
    "X-Slack-Retry-Reason",
)
# What a failed hand-over raises: the bot's process is down, restarting or too slow.
UPSTREAM_ERRORS = (OSError, ClientError, asyncio.TimeoutError)


def acked_here(body: dict[str, Any]) -> bool:
    """Requests the bot acks with an empty body before any work: the front may ack them
    (events are acked so by Bolt itself)."""
    return acked_before_listener(body) or body.get("type") == "event_callback"


class Upstream:
    """The bot's HTTP server on loopback, over a pool of keep-alive connections."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.away = False  # the last request found the bot not answering
        self._session: ClientSession | None = None

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request; tried again once when a kept-alive connection was closed meanwhile."""
        if self._session is None:
            self._session = ClientSession(
                connector=TCPConnector(limit=FORWARDERS * 2),
                timeout=ClientTimeout(total=self.timeout),
                auto_decompress=False,
            )
        for attempt in (1, 2):
            try:
                async with self._session.request(
                    method, self.url + path, data=body, headers=headers, allow_redirects=False
                ) as resp:
                    data = await resp.read()
                    got = [(k, v) for k, v in resp.headers.items()]
            except UPSTREAM_ERRORS:
                if attempt == 2:
                    self.away = True
                    raise
                continue
            self.away = False
            return resp.status, resp.reason or "", got, data
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class Forwarder:
    """Hands acked requests to the bot from a bounded queue, retrying while it is away."""

    def __init__(self, upstream: Upstream, tasks: int = FORWARDERS) -> None:
        self.upstream = upstream
        self._queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue(MAX_BACKLOG)
        self._tasks = [asyncio.ensure_future(self._run()) for _ in range(tasks)]
        self.closing = False
        self._busy = 0  # hand-overs under way

    def submit(self, rid: str, body: bytes, headers: dict[str, str]) -> bool:
        """False when the backlog is full or the front is stopping (the caller answers 503)."""
        if self.closing:
            return False
        try:
            self._queue.put_nowait((rid, body, headers))
        except asyncio.QueueFull:
            return False
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Take nothing more; hand over what is queued (bounded), then stop."""
        self.closing = True
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning(
                "stopped with %d acked requests not handed to the bot",
                self._queue.qsize() + self._busy,
            )
        for task in self._tasks:
            task.cancel()

    async def _run(self) -> None:
        while True:
            rid, body, headers = await self._queue.get()
            self._busy += 1
            try:
                set_log_context("req", rid)
                await self._hand_over(body, headers)
            finally:
                self._busy -= 1
                self._queue.task_done()

    async def _hand_over(self, body: bytes, headers: dict[str, str]) -> None:
        started, delay = time.monotonic(), 0.1
        while True:
            try:
                status, _, _, _ = await self.upstream.request("POST", EVENTS_PATH, body, headers)
            except UPSTREAM_ERRORS as exc:
                if time.monotonic() - started + delay > GIVE_UP_AFTER:
                    log.warning(
                        "dropped an acked request: the bot did not take it within %.0f s (%s);"
                        " check that the newsbot process is running",
                        GIVE_UP_AFTER,
                        type(exc).__name__,
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if status >= 400:
                log.warning("the bot refused an acked request with HTTP %d", status)
            return


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def front_app(upstream: Upstream, forwarder: Forwarder, signing_secret: str) -> web.Application:
    """The public app: ack what may be acked here, pass the rest to the bot."""
    verifier = SignatureVerifier(signing_secret)
    refused: list[float] = [0, -1e9]  # 503s not yet logged, when the last line was

    async def relay(method: str, path: str, body: bytes, headers: dict[str, str]) -> web.Response:
        try:
            status, reason, got, data = await upstream.request(method, path, body, headers)
        except UPSTREAM_ERRORS as exc:
            log.warning("the bot did not answer a %s %s (%s)", method, path, type(exc).__name__)
            data = json.dumps({"ok": False, "error": "the bot process does not answer"}).encode()
            return web.Response(status=503, body=data, content_type="application/json")
        kept = {k: v for k, v in got if k.lower() in ("content-type", "retry-after")}
        return web.Response(status=status, reason=reason, body=data, headers=kept)

    async def handle(request: web.Request) -> web.Response:
        set_log_context("req", "front")
        method, path = request.method, request.path
        if method != "POST" or path != EVENTS_PATH:
            return await relay(method, request.path_qs, b"", {})
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("rejected a request to %s: the body is over %d bytes", path, MAX_BODY)
            return _plain(413, "Bad Request")
        try:
            body = parse_body(raw, request.headers.get("Content-Type", ""))
        except BadRequest as exc:
            log.warning("rejected a request to %s: %s", path, exc)
            return _plain(int(exc.status.split()[0]), "Bad Request")
        rid = request_id(body)
        set_log_context("req", rid)
        headers = {k: v for k in PASSED_HEADERS if (v := request.headers.get(k))}
        if not acked_here(body):
            return await relay(method, path, raw, headers)
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isdigit() or not verifier.is_valid(
            raw, timestamp, headers.get("X-Slack-Signature", "")
        ):
            log.info("rejected a request with a missing, stale or wrong signature")
            return _plain(401, "invalid request")
        if upstream.away:
            # the bot did not answer lately: pass this one through, so that its answer (or
            # a 503 Slack will retry) is what Slack gets, and a success ends the outage
            return await relay(method, path, raw, headers)
        if not forwarder.submit(rid, raw, headers):
            refused[0] += 1
            now = time.monotonic()
            if now - refused[1] >= 10.0:  # one line per 10 s in a flood, with the count
                log.warning(
                    "answered 503 to %d requests: %d acked requests wait for the bot, or it stops",
                    refused[0],
                    MAX_BACKLOG,
                )
                refused[:] = [0, now]
            return _plain(503, "try again shortly")
        return web.Response(status=200)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


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
            # read at start-up by the front, the parent's id could already be init's if this
            # process were killed in between: the front would then serve on for nobody
            "--parent",
            str(os.getpid()),
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


async def serve(ns: argparse.Namespace, secret: str) -> int:
    """Serve until SIGTERM / SIGINT or until the bot (this process's parent) is gone."""
    upstream = Upstream(ns.upstream)
    forwarder = Forwarder(upstream)
    runner = web.AppRunner(
        front_app(upstream, forwarder, secret),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_WITHIN,
    )
    await runner.setup()
    site = web.TCPSite(runner, ns.host, ns.port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        print(f"newsbot front: cannot listen on {ns.host}:{ns.port} ({exc})", file=sys.stderr)
        await runner.cleanup()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    while not stop.is_set():
        if os.getppid() != ns.parent:  # the bot is gone (even by kill -9): stop acking for it
            log.warning("the bot process exited; the HTTP front stops")
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    # No new connections; requests in progress get SHUTDOWN_WITHIN to finish (a client stalled
    # mid-body would otherwise hold the stop for a minute); then what was acked is handed over,
    # bounded, and nothing more is taken.
    await runner.cleanup()
    await forwarder.close()
    await upstream.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.slack.front", description=__doc__)
    parser.add_argument("--upstream", required=True, help="the bot's HTTP server (loopback URL)")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--parent",
        type=int,
        default=os.getppid(),
        help="the bot's process id: the front stops when it is gone (default: the parent now)",
    )
    ns = parser.parse_args(argv)
    setup_logging(ns.log_level)
    secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not secret:
        print("newsbot front: SLACK_SIGNING_SECRET is not set", file=sys.stderr)
        return 2
    return asyncio.run(serve(ns, secret))


if __name__ == "__main__":
    sys.exit(main())
