"""Building the Bolt app: the Web API client with retries, dedupe, listeners, error handling."""

from __future__ import annotations

import contextvars
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.error import URLError

from slack_bolt import App, BoltContext, BoltResponse, Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
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
from bot.slack import views
from bot.slack.dedupe import SeenCache, SharedSeen
from bot.slack.listeners import register

log = logging.getLogger("newsbot.slack")

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


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


class RetryingRespond(Respond):
    """Bolt's ``respond()`` with retries on 429 and 5xx; Bolt's own sends exactly once."""

    def __call__(  # type: ignore[override]
        self, text: str | dict = "", blocks: Any = None, **kwargs: Any
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(text=text, blocks=blocks, **kwargs)
        client = WebhookClient(
            url=self.response_url,
            proxy=self.proxy,
            ssl=self.ssl,
            retry_handlers=response_url_retry_handlers(),
        )
        response = client.send_dict(message)
        if response.status_code != 200:
            log.warning(
                "response_url answered HTTP %s (after retries); the answer was not shown",
                response.status_code,
            )
        return response


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


class ContextExecutor(ThreadPoolExecutor):
    """A listener pool that runs each task in the submitter's context (its log request id)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def request_id(body: dict[str, Any]) -> str:
    """A short id for a Slack request, for the logs."""
    if body.get("event_id"):
        return str(body["event_id"])
    if body.get("trigger_id"):
        return "trigger-" + str(body["trigger_id"])[-12:]
    return str(body.get("type") or body.get("command") or "request")


def build_app(
    settings: Settings,
    archive: Archive,
    client: WebClient | None = None,
    *,
    seen: SeenCache | SharedSeen | None = None,
    listener_threads: int = 16,
) -> App:
    """The Bolt app with every listener registered.

    ``process_before_response`` stays False: each listener acks first, and Bolt answers Slack
    (HTTP response or Socket Mode ack) at once while the search continues in the listener pool.
    """
    app = App(
        name="newsbot",
        client=client or make_client(settings),
        signing_secret=settings.signing_secret or "",
        process_before_response=False,
        listener_executor=ContextExecutor(
            max_workers=listener_threads, thread_name_prefix="newsbot-listener"
        ),
    )
    seen = seen or SharedSeen(archive)

    @app.middleware
    def tag_log_lines(body: dict[str, Any], next: Any) -> None:
        """Every log line about a request carries its id: set for this dispatch thread, and
        copied into the listener pool by ContextExecutor when Bolt submits the listener."""
        set_log_context("req", request_id(body))
        next()

    @app.middleware
    def drop_repeated_deliveries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack retries an event it thinks failed; answer each event once (by id)."""
        if body.get("type") == "event_callback":
            event = body.get("event") or {}
            keys = [
                f"event:{body['event_id']}" if body.get("event_id") else None,
                f"msg:{event['client_msg_id']}" if event.get("client_msg_id") else None,
            ]
            if seen.seen_before(*keys):
                log.info("ignoring a repeated delivery of %s", body.get("event_id"))
                return BoltResponse(status=200, body="")
        elif body.get("trigger_id") and seen.seen_before(f"trigger:{body['trigger_id']}"):
            # slash commands and button clicks: each invocation has its own trigger_id
            log.info(
                "ignoring a repeated delivery of a %s", body.get("command") or body.get("type")
            )
            return BoltResponse(status=200, body="")
        next()
        return None

    @app.middleware
    def ack_at_once(body: dict[str, Any], ack: Any, next: Any) -> None:
        """Slash commands and button clicks are acked here, in the request's own thread: Bolt
        would otherwise wait for a free listener thread (busy with searches under load) before
        the listener's first line, ``ack()``, could run. Every such listener acks with no body
        (its answer goes through ``respond()``), so acking earlier changes nothing else."""
        if body.get("command") or body.get("type") == "block_actions":
            ack()
        next()

    @app.middleware
    def respond_with_retries(context: BoltContext, next: Any) -> None:
        if context.response_url:
            context["respond"] = RetryingRespond(
                response_url=context.response_url,
                proxy=context.client.proxy,
                ssl=context.client.ssl,
            )
        next()

    register(app, archive)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any, say: Any) -> None:
        """A failing listener: log the cause (no tokens), tell the user briefly, keep serving."""
        code = slack_error_code(error)
        kind = body.get("type") or ("slash_command" if body.get("command") else "request")
        log.error("listener failed on %s: %s", kind, redact(f"{type(error).__name__}: {error}"))
        message = views.not_in_channel() if code in NOT_IN_CHANNEL else views.apology()
        try:
            if body.get("response_url") or body.get("type") == "block_actions":
                respond(**message.as_kwargs(), response_type="ephemeral", replace_original=False)
            elif (
                (event := body.get("event")) and event.get("channel") and code not in NOT_IN_CHANNEL
            ):
                thread = None if event.get("channel_type") == "im" else event.get("ts")
                say(**message.as_kwargs(), thread_ts=event.get("thread_ts") or thread)
        except Exception as exc:  # the apology itself failed: logging is all that is left
            log.warning("could not tell the user about the failure: %s", redact(str(exc)))

    return app
