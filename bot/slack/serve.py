"""``newsbot serve``: Socket Mode (app token) or HTTP mode (signing secret) with waitress.

HTTP mode serves Bolt's WSGI adapter at ``/slack/events`` (Slack's documented path), behind the
ack front (``bot.slack.front``, its own process on the public port), a liveness
check at ``GET /healthz`` and a readiness check at ``GET /readyz`` (503 until this worker's search
index has caught up with the database) with waitress, a production WSGI server; Bolt's own server
is for development only. Both modes stop cleanly on SIGTERM / Ctrl-C. Slack unreachable at start
is one line, then retries with backoff.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from waitress.server import create_server

from bot.archive import Archive
from bot.logs import RedactingFilter, redact
from bot.settings import Settings, SettingsError
from bot.slack.app import LISTENER_NICENESS_BEHIND_FRONT, build_app
from bot.slack.front import FrontProcess
from bot.slack.guard import GuardedSocketModeHandler, guard_wsgi

log = logging.getLogger("newsbot.slack.serve")
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
MAX_BACKOFF = 60.0
CLOSE_WITHIN = 10.0  # seconds for the Socket Mode connection to close on stop

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, archive: Archive) -> Wsgi:
    """Slack requests to Bolt (behind the guard) at /slack/events; GET /healthz for probes."""
    bolt = guard_wsgi(SlackRequestHandler(app, path=EVENTS_PATH))

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in (HEALTH_PATH, READY_PATH) and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            status, body = (_health if path == HEALTH_PATH else _ready)(archive)
            data = json.dumps(body).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            )
            return [data]
        return bolt(environ, start_response)

    return application


def _health(archive: Archive) -> tuple[str, dict[str, Any]]:
    try:
        articles, passages = archive.counts()
        return "200 OK", {"ok": True, "articles": articles, "passages": passages}
    except Exception as exc:
        return "503 Service Unavailable", {"ok": False, "error": type(exc).__name__}


def _ready(archive: Archive) -> tuple[str, dict[str, Any]]:
    """200 once this worker's index has caught up with the change log (positions in the body)."""
    try:
        status = archive.index_status()
    except Exception as exc:
        return "503 Service Unavailable", {"ready": False, "error": type(exc).__name__}
    ready = bool(status["caught_up"])
    return ("200 OK" if ready else "503 Service Unavailable"), {"ready": ready, **status}


class HttpServer:
    """waitress serving the bot in a background thread; ``port=0`` picks a free port."""

    def __init__(
        self,
        app: App,
        archive: Archive,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        threads: int = 8,
    ) -> None:
        # waitress warns whenever a request waits for a free thread: under a burst that is this
        # server's normal state (each waits for a search to finish), not something an operator
        # can act on.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._server = create_server(
            wsgi_app(app, archive), host=host, port=port, threads=threads, ident="newsbot"
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsbot-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        """Serve one loop turn at a time until stopped, then close every connection.

        waitress is not thread-safe to close from outside its loop, so the loop itself checks
        the stop flag between turns (at most 0.2 s apart) and shuts down, letting running tasks
        finish."""
        server = self._server
        while not self._stop.is_set():
            server.asyncore.loop(timeout=0.2, map=server._map, count=1)  # type: ignore[union-attr]
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)  # type: ignore[union-attr]
        for channel in list(server._map.values()):  # type: ignore[union-attr]
            channel.close()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def wait_for_stop(stop: threading.Event) -> None:
    """Block the main thread until ``stop`` is set, in short waits: Python runs a signal handler
    only in the main thread between bytecodes, and Linux may deliver SIGTERM to any other
    thread, which does not interrupt a wait without a timeout (a SIGTERM was seen to go
    unanswered for over a minute that way)."""
    while not stop.wait(0.5):
        pass


def install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def _until_slack_answers(what: str, attempt: Callable[[], Any], stop: threading.Event) -> Any:
    """``attempt()`` until it stops failing with a network error (one line, then retries with
    backoff); None if ``stop`` was set meanwhile. Other errors (a rejected token) propagate."""
    delay, said = 1.0, False
    while True:
        try:
            result = attempt()
        except OSError as exc:
            if not said:
                print(
                    f"newsbot serve: cannot reach Slack to {what}"
                    f" ({redact(f'{type(exc).__name__}: {exc}')}); retrying with backoff"
                    " until it answers (check the network, a proxy, or SLACK_API_URL)",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            if stop.wait(delay):
                return None
            delay = min(delay * 2, MAX_BACKOFF)
            continue
        if said:
            print("newsbot serve: Slack answered", file=sys.stderr, flush=True)
        return result


def _shutdown_listeners(app: App, timeout: float) -> None:
    """Let in-flight answers finish (bounded), then stop the listener pool."""
    executor = getattr(app.listener_runner, "listener_executor", None)
    if executor is None:
        return
    done = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, daemon=True)
    done.start()
    done.join(timeout)


def run_serve(
    settings: Settings,
    archive: Archive,
    port: int | None = None,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
    ping_interval: float = 5.0,
) -> int:
    """Serve until SIGTERM / Ctrl-C (or ``stop`` is set). Returns the exit code.

    Socket Mode when ``SLACK_APP_TOKEN`` is set, otherwise HTTP mode on ``port`` (default
    ``settings.port``). ``on_ready`` receives a one-line description once serving.
    ``ping_interval``: how often the Socket Mode connection is checked; a lost connection is
    reopened at the next check (and retried at every check while Slack refuses it). Slack's own
    ``disconnect`` (refresh) message is followed at once.

    On stop, new work is refused first (the Socket Mode connection is closed, or the HTTP server
    stops accepting), then answers in flight get a few seconds to finish.
    """
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    try:
        settings.require_slack()
    except SettingsError as exc:
        print(f"newsbot serve: {exc}", file=sys.stderr)
        return 2
    stop = stop or threading.Event()
    install_signal_handlers(stop)
    # behind the ack front (HTTP mode) the searches yield the CPU to the acks
    niceness = 0 if settings.slack_mode == "socket" else LISTENER_NICENESS_BEHIND_FRONT
    try:
        app = _until_slack_answers(
            "check the bot token",
            lambda: build_app(settings, archive, listener_niceness=niceness),
            stop,
        )
        if app is None:
            return 0
    except (BoltError, SlackApiError) as exc:
        print(
            f"newsbot serve: Slack did not accept the bot token ({redact(str(exc))}). "
            "Check SLACK_BOT_TOKEN (and SLACK_API_URL if set).",
            file=sys.stderr,
        )
        return 1
    ready = on_ready or (lambda line: print(line, file=sys.stderr))
    if settings.slack_mode == "socket":
        socket_handler = GuardedSocketModeHandler(
            app, settings.app_token, ping_interval=ping_interval
        )
        try:
            if (
                _until_slack_answers(
                    "open Socket Mode", lambda: socket_handler.connect() or True, stop
                )
                is None
            ):
                threading.Thread(target=socket_handler.close, daemon=True).start()
                _shutdown_listeners(app, timeout=1.0)
                return 0
        except Exception as exc:
            threading.Thread(target=socket_handler.close, daemon=True).start()
            _shutdown_listeners(app, timeout=1.0)
            print(
                "newsbot serve: could not open the Socket Mode connection"
                f" ({redact(f'{type(exc).__name__}: {exc}')}). Check SLACK_APP_TOKEN (an app-level"
                " token with connections:write) and that Socket Mode is on in the app settings.",
                file=sys.stderr,
            )
            return 1
        ready("newsbot: connected to Slack in Socket Mode; Ctrl-C to stop")
        wait_for_stop(stop)
        # slack_sdk's close waits out its socket read timeout and joins its threads; on a loaded
        # machine that was seen to take over a minute. New work already stopped coming with
        # the signal, so the close gets a bound and the process exits on time regardless.
        closing = threading.Thread(target=socket_handler.close, daemon=True)
        closing.start()
        closing.join(CLOSE_WITHIN)
        if closing.is_alive():
            log.warning("the Socket Mode connection did not close within %.0f s", CLOSE_WITHIN)
    else:
        # The bot on loopback; the ack front (its own process) on the public port.
        server = HttpServer(app, archive, host="127.0.0.1", port=0).start()
        try:
            front = FrontProcess(
                server.url,
                settings.signing_secret or "",
                host="0.0.0.0",
                port=settings.port if port is None else port,
                log_level=settings.log_level,
            ).start()
        except (OSError, RuntimeError) as exc:
            server.stop()
            _shutdown_listeners(app, timeout=1.0)
            print(f"newsbot serve: {exc} (is the port taken?)", file=sys.stderr)
            return 1
        ready(f"newsbot: serving HTTP on port {front.port} ({EVENTS_PATH}, {HEALTH_PATH})")
        wait_for_stop(stop)
        front.stop()
        server.stop()
    _shutdown_listeners(app, timeout=5.0)
    return 0
