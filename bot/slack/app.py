"""Building the Bolt app: the Web API client with retries, dedupe, listeners, error handling."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.error import URLError

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_bolt.context.respond.internals import _build_message
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.archive import Archive
from bot.logs import redact, set_log_context
from bot.settings import Settings
from bot.slack.dedupe import SeenCache, SharedSeen
from bot.slack.listeners import register
from bot.slack.payload import (
    InvalidButton,
    acked_before_listener,
    as_dict,
    as_str,
    channel_of,
    request_id,
    user_of,
)
from bot.slack.views.notices import apology, not_in_channel, notice

log = logging.getLogger("newsbot.slack")

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")
BUTTON_EXPIRED = "This button has expired; search again."


class RefusedConnectionRetryHandler(RetryHandler):
    """Retries only a refused connection (or a failed DNS lookup): nothing was sent, so a
    retry cannot deliver anything twice."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        reason = error.reason if isinstance(error, URLError) else error
        return response is None and isinstance(reason, ConnectionRefusedError | socket.gaierror)


class StatusRetryHandler(RetryHandler):
    """Retries answers with one of ``statuses`` (a bounded number of times, short backoff)."""

    def __init__(
        self, statuses: frozenset[int], max_retry_count: int = 2, backoff_factor: float = 0.25
    ) -> None:
        super().__init__(max_retry_count, BackoffRetryIntervalCalculator(backoff_factor))
        self.statuses = statuses

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in self.statuses


SERVER_ERRORS = frozenset(range(500, 600))


class TransientErrorRetryHandler(StatusRetryHandler):
    """Retries 5xx answers and timeouts a bounded number of times, with a short backoff.

    slack_sdk's ServerErrorRetryHandler covers only 500 and 503; gateways answer 502 and 504
    too, and a read timeout is not a connection error to ConnectionErrorRetryHandler.
    """

    def __init__(self, max_retry_count: int = 2, backoff_factor: float = 0.25) -> None:
        super().__init__(SERVER_ERRORS, max_retry_count, backoff_factor)

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None:
            return super()._can_retry(state=state, request=request, response=response)
        return isinstance(error, TimeoutError | socket.timeout)


def response_url_retry_handlers() -> list[RetryHandler]:
    """For ``respond()``: 429 after Retry-After, 5xx, refused connections; never a timeout
    (the answer may have arrived, and a retry would show it twice)."""
    return [
        RefusedConnectionRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        StatusRetryHandler(SERVER_ERRORS, max_retry_count=2),
    ]


Fallback = Callable[[dict[str, Any], str], None]
# slack_sdk's webhook client logs each failed send as an ERROR with the URL; RetryingRespond
# says once, in its own words, what happened to the answer.
_QUIET = logging.Logger("newsbot.slack.webhook", level=logging.CRITICAL + 1)


class RetryingRespond(Respond):
    """Bolt's ``respond()`` with retries on 429 and 5xx; Bolt's own sends exactly once.

    When there is no ``response_url``, or it refuses the answer (it expires after 30 minutes and
    5 uses), ``fallback`` gets the message and the reason (``ephemeral_fallback``).
    """

    def __init__(
        self,
        *,
        response_url: str | None,
        proxy: str | None = None,
        ssl: Any = None,
        fallback: Fallback | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.fallback = fallback

    def __call__(  # type: ignore[override]
        self, text: str | dict = "", blocks: Any = None, **kwargs: Any
    ) -> WebhookResponse | None:
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(text=text, blocks=blocks, **kwargs)
        if self.response_url is None:
            return self._fall_back(message, "the request has no response_url")
        client = WebhookClient(
            url=self.response_url,
            proxy=self.proxy,
            ssl=self.ssl,
            retry_handlers=response_url_retry_handlers(),
            logger=_QUIET,
        )
        try:
            response = client.send_dict(message)
        except (OSError, ValueError, SlackRequestError) as exc:  # unreachable, or not a URL
            self._fall_back(message, f"the response_url failed ({type(exc).__name__})")
            return None
        if response.status_code != 200:
            reason = f"the response_url answered HTTP {response.status_code} {response.body[:40]!r}"
            self._fall_back(message, reason)
        return response

    def _fall_back(self, message: dict[str, Any], reason: str) -> None:
        if self.fallback is None:
            log.warning("%s; the answer was not shown", reason)
        else:
            self.fallback(message, reason)


def ephemeral_fallback(client: WebClient, channel: str | None, user: str | None) -> Fallback:
    """Answer with ``chat.postEphemeral`` to ``user`` in ``channel``, as Slack allows when the
    ``response_url`` cannot be used; one WARNING line when that is not possible either."""

    def post(message: dict[str, Any], reason: str) -> None:
        if not (channel and user):
            log.warning("%s, and it names no channel and user: the answer was not shown", reason)
            return
        try:
            client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=message.get("text") or "",
                blocks=message.get("blocks"),
                thread_ts=message.get("thread_ts"),
            )
        except SlackApiError as exc:
            log.warning(
                "%s, and chat.postEphemeral said %s: the answer was not shown",
                reason,
                slack_error_code(exc),
            )
            return
        except OSError as exc:
            log.warning("%s, and chat.postEphemeral failed (%s)", reason, type(exc).__name__)
            return
        log.info("%s; answered with chat.postEphemeral instead", reason)

    return post


def respond_for(context: BoltContext, body: dict[str, Any]) -> RetryingRespond:
    """The ``respond()`` every listener gets: retries, then the ephemeral fallback."""
    client = context.client
    return RetryingRespond(
        response_url=as_str(context.response_url),
        proxy=client.proxy,
        ssl=client.ssl,
        fallback=ephemeral_fallback(client, channel_of(body), user_of(body)),
    )


class StickyAck(Ack):
    """Bolt's ``ack`` whose response, once set, stays set.

    When a listener raises after ``ack()``, Bolt 1.x (``process_before_response=False``) sets
    the ack's response back to None; if that happens before Bolt polled it (every 10 ms), Bolt
    waits out 3 s and answers Slack 404. Ignoring that reset keeps the acknowledgement.
    """

    _response: BoltResponse | None = None

    @property  # type: ignore[override]
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None or self._response is None:
            self._response = value


def retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        TransientErrorRetryHandler(max_retry_count=2),
    ]


def make_client(settings: Settings, *, timeout: int = 15) -> WebClient:
    """The bot's Web API client: SLACK_API_URL when set, 429 and 5xx retried."""
    base_url = settings.slack_api_url or WebClient.BASE_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(
        token=settings.bot_token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=retry_handlers(),
    )


class _DropTokenUnusedWarning(logging.Filter):
    """Bolt warns at every start that SLACK_BOT_TOKEN is unused because we pass our own client
    (which carries that very token): noise an operator should not have to read."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_DropTokenUnusedWarning())


def slack_error_code(error: BaseException) -> str | None:
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        if isinstance(data, dict):
            return data.get("error")
    return None


# The keys of the delivery being dispatched in this thread, set by the dedupe middleware.
DELIVERY: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("delivery", default=())


class ContextExecutor(ThreadPoolExecutor):
    """A listener pool that runs each task in the submitter's context (its log request id) and
    drops a repeated delivery there, after Slack has its ack.

    Asking the store whether a delivery was seen is a database write (the shared table is what
    lets another worker answer a retry once). Done in the request thread it sat in the ack path
    and, with SQLite's write lock contended under load, made the slowest acks wait on the busy
    handler's sleeps (ack p99 several hundred ms with 20 senders); the listener is where the
    answer is made, so it is where a repeat is dropped."""

    def __init__(self, *args: Any, seen: SeenCache | SharedSeen | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen = seen

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        context = contextvars.copy_context()
        keys = context.get(DELIVERY, ())
        if not keys or self.seen is None:
            return super().submit(context.run, fn, *args, **kwargs)
        seen = self.seen

        def once() -> Any:
            if seen.seen_before(*keys):
                log.info("ignoring a repeated delivery (%s)", keys[0])
                return None
            return fn(*args, **kwargs)

        return super().submit(context.run, once)


class RequestSetup(Middleware):
    """What every request gets before its listener, in one step (Bolt builds the arguments of a
    function middleware by inspection on every call; five of them cost more than their work):

    - its id on every log line: set for this dispatch thread, and copied into the listener pool
      by ``ContextExecutor`` when Bolt submits the listener;
    - a ``StickyAck``;
    - its delivery keys (event id and message id, or the trigger id of a slash command or a
      click), with which the pool drops a repeated delivery (Slack retries an event it thinks
      failed) after the ack;
    - the ack itself for slash commands and clicks, here in the request's own thread: Bolt would
      otherwise wait for a free listener thread (busy with searches under load) before the
      listener's first line, ``ack()``, could run. Every such listener acks with no body (its
      answer goes through ``respond()``), so acking earlier changes nothing else;
    - a ``respond()`` with retries and the ephemeral fallback.
    """

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body, context = req.body, req.context
        set_log_context("req", request_id(body))
        context["ack"] = StickyAck()
        if body.get("type") == "event_callback":
            event_id = as_str(body.get("event_id"))
            msg_id = as_str(as_dict(body.get("event")).get("client_msg_id"))
            keys = (f"event:{event_id}" if event_id else "", f"msg:{msg_id}" if msg_id else "")
        else:  # slash commands and button clicks: each invocation has its own trigger_id
            trigger = as_str(body.get("trigger_id"))
            keys = (f"trigger:{trigger}" if trigger else "",)
        DELIVERY.set(tuple(k for k in keys if k))
        if acked_before_listener(body):
            context.ack()
        context["respond"] = respond_for(context, body)
        return next()


# In HTTP mode the ack front (a process of its own) acks every command while the searches run in
# the bot's listener threads. With those threads a little nicer, the kernel runs the front first
# when both want a core, so acks stay quick while the bot is saturated: with 20 senders on 2
# cores, ack p99 median 42 -> 17 ms over 6 alternating runs, answers as fast as before
# (docs/benchmarks.md, issue 11). Linux keeps a niceness per thread; elsewhere it is left alone.
LISTENER_NICENESS_BEHIND_FRONT = 5


def _listener_priority(niceness: int) -> Callable[[], None] | None:
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return None

    def lower() -> None:
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):  # not permitted here: the thread keeps its priority
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))

    return lower


def build_app(
    settings: Settings,
    archive: Archive,
    client: WebClient | None = None,
    *,
    seen: SeenCache | SharedSeen | None = None,
    listener_threads: int = 16,
    listener_niceness: int = 0,
) -> App:
    """The Bolt app with every listener registered.

    ``process_before_response`` stays False: each listener acks first, and Bolt answers Slack
    (HTTP response or Socket Mode ack) at once while the search continues in the listener pool.
    """
    seen = seen or SharedSeen(archive)
    app = App(
        # Not "newsbot": Bolt resets its app logger's level to the root's on every request,
        # which would silence the INFO lines of every newsbot.* logger.
        name="newsbot-bolt",
        client=client or make_client(settings),
        signing_secret=settings.signing_secret or "",
        process_before_response=False,
        raise_error_for_unhandled_request=True,
        listener_executor=ContextExecutor(
            max_workers=listener_threads,
            thread_name_prefix="newsbot-listener",
            initializer=_listener_priority(listener_niceness),
            seen=seen,
        ),
    )

    app.middleware(RequestSetup())
    register(app, archive)

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], context: BoltContext, response: Any
    ) -> BoltResponse | None:
        """A failing listener: log the cause (no tokens), tell the user briefly, keep serving.

        Requests no listener handles and buttons that do not parse are the sender's doing: one
        INFO line each (and the user is told the button expired). Slack never sees a 5xx.
        """
        answer(error, body, context)
        if response is not None and response.status >= 300:
            return BoltResponse(status=200, body="")
        return None

    return app


def answer(error: Exception, body: dict[str, Any], context: BoltContext) -> None:
    """Log a listener's failure in one line and tell the user what Slack lets us tell them."""
    kind = as_str(body.get("type")) or ("slash_command" if body.get("command") else "request")
    code = slack_error_code(error)
    if isinstance(error, BoltUnhandledRequestError):
        log.info("ignoring a %s no listener handles", kind)
        return
    if isinstance(error, InvalidButton):
        log.info("answering an invalid button: %s", error)
        message = notice(BUTTON_EXPIRED)
    else:
        log.error("listener failed on %s: %s", kind, redact(f"{type(error).__name__}: {error}"))
        message = not_in_channel() if code in NOT_IN_CHANNEL else apology()
    try:
        event = as_dict(body.get("event"))
        if body.get("response_url") or kind == "block_actions":
            respond = context.get("respond") or respond_for(context, body)
            respond(**message.as_kwargs(), response_type="ephemeral", replace_original=False)
        elif as_str(event.get("channel")) and code not in NOT_IN_CHANNEL:
            thread = None if event.get("channel_type") == "im" else as_str(event.get("ts"))
            context.say(**message.as_kwargs(), thread_ts=as_str(event.get("thread_ts")) or thread)
    except Exception as exc:  # the apology itself failed: logging is all that is left
        log.warning("could not tell the user about the failure: %s", redact(str(exc)))
