"""Posting the digest to Slack for ``bot.digest.delivery``: the poster and the history lookup.

``bot.digest.delivery`` decides *whether* to post (the ledger); this module only posts and says
what Slack answered, as ``bot.digest.delivery``'s exceptions. The post is never retried blindly:
an answer that may have been lost (timeout, dropped connection, gateway error) is reported as
:class:`~bot.digest.delivery.PostInDoubt`, and :meth:`SlackDigestPoster.find_existing` later
looks for the message by the marker it carries in its metadata, so a digest is neither lost nor
doubled.
"""

from __future__ import annotations

import http.client
import logging
import socket
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler

from bot.digest.delivery import (
    ChannelNotFound,
    HistoryUnavailable,
    NotInChannel,
    PostError,
    PostInDoubt,
    RateLimited,
    SlackUnavailable,
)
from bot.logs import redact
from bot.slack.app import RefusedConnectionRetryHandler, StatusRetryHandler
from bot.slack.views.digest import render_digest

log = logging.getLogger("newsbot.slack.digest")

EVENT_TYPE = "newsbot_digest"
HISTORY_PAGE = 200
HISTORY_PAGES = 5  # at most 1000 messages looked at: a digest channel is not that busy
HISTORY_DAYS = 3
# Gateways answer these when they gave up waiting for Slack, which may have posted anyway.
IN_DOUBT_STATUS = (502, 504)


def posting_retry_handlers() -> list[RetryHandler]:
    """Retries that cannot post a message twice: 429, 500/503, refused connections.

    Timeouts, dropped connections and 502/504 are not retried here: the message may already be
    in the channel. The ledger retries those later, after checking the channel history.
    """
    return [
        RefusedConnectionRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=2),
        # Slack answers 500 and 503 when it did not take the request
        StatusRetryHandler(frozenset({500, 503}), max_retry_count=2, backoff_factor=0.5),
    ]


def posting_client(client: WebClient) -> WebClient:
    """A copy of ``client`` (same token, URL, timeout) with only the safe retries."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers or {}),
        retry_handlers=posting_retry_handlers(),
    )


def _marker_date(marker: str) -> date | None:
    try:
        return date.fromisoformat(marker.rsplit(":", 1)[-1])
    except ValueError:
        return None


def post_error(error: BaseException, method: str = "chat.postMessage") -> PostError:
    """Slack's answer (or the lack of one) as a ``bot.digest.delivery`` exception, with no token."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = int(getattr(response, "status_code", 200) or 200)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        code = str(data.get("error") or "")
        if code == "missing_scope" and method == "conversations.history":
            return HistoryUnavailable(
                f"the channel history cannot be read without {data.get('needed') or 'a scope'}"
                " (optional; to recover on its own, add it under OAuth & Permissions and"
                " reinstall the app)"
            )
        if code == "missing_scope":
            needed = str(data.get("needed") or "?")
            return SlackUnavailable(
                f"{method}: the app lacks the scope {needed}; add it under OAuth & Permissions"
                " (or paste manifest.json again) and reinstall the app"
            )
        if code == "not_in_channel":
            return NotInChannel(f"{method}: not_in_channel")
        if code in ("channel_not_found", "is_archived"):
            return ChannelNotFound(f"{method}: {code}")
        if status == 429 or code == "ratelimited":
            headers = getattr(response, "headers", None) or {}
            raw = headers.get("Retry-After") or headers.get("retry-after")
            try:
                retry_after = float(raw) if raw is not None else None
            except ValueError:
                retry_after = None
            return RateLimited(f"{method}: rate limited (HTTP 429)", retry_after=retry_after)
        if status in IN_DOUBT_STATUS:
            return PostInDoubt(f"{method}: HTTP {status} from a gateway")
        if status >= 500:
            return SlackUnavailable(f"{method}: HTTP {status}")
        return SlackUnavailable(redact(f"{method}: Slack answered {code or 'an error'}"))
    reason = error.reason if isinstance(error, URLError) else error
    if isinstance(reason, ConnectionRefusedError | socket.gaierror):
        return SlackUnavailable(f"{method}: cannot connect to Slack ({error.reason})")
    if isinstance(
        error, TimeoutError | socket.timeout | http.client.HTTPException | OSError | URLError
    ):
        return PostInDoubt(redact(f"{method}: {type(error).__name__}: {error}"))
    return PostInDoubt(redact(f"{method}: unexpected {type(error).__name__}: {error}"))


class SlackDigestPoster:
    """``post`` and ``find_existing`` for ``bot.digest.delivery``'s ``deliver_all`` and
    ``post_digest_now``."""

    def __init__(self, client: WebClient, *, history_days: int = HISTORY_DAYS) -> None:
        self.client = client
        self.poster = posting_client(client)
        self.history_days = history_days

    def post(self, channel: str, content: Any, marker: str) -> str:
        """Post the rendered digest (a quiet day renders as "nothing new"); returns its ``ts``."""
        text, blocks = render_digest(content)
        try:
            response = self.poster.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                metadata={"event_type": EVENT_TYPE, "event_payload": {"marker": marker}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:
            raise post_error(exc) from None
        ts = response.get("ts")
        if not ts:  # ok but no ts: it was posted, we just cannot name it
            raise PostInDoubt("chat.postMessage: Slack answered without a message ts")
        return str(ts)

    def find_existing(self, channel: str, marker: str) -> str | None:
        """The ``ts`` of a message in ``channel`` carrying ``marker``, or None.

        Looks back ``history_days`` before the digest's date (or now), a bounded number of
        pages. Raises a ``PostError`` when the history cannot be read (the delivery holds the
        digest and retries: never a blind re-post).
        """
        day = _marker_date(marker)
        start = (
            datetime.now(UTC) if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
        )
        oldest = (start - timedelta(days=self.history_days)).timestamp()
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                page = self.client.conversations_history(
                    channel=channel,
                    oldest=f"{max(oldest, 0):.6f}",
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            except Exception as exc:
                raise post_error(exc, "conversations.history") from None
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("marker") == marker:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        log.warning(
            "digest %s: looked through %d messages of history without finding %s",
            channel,
            HISTORY_PAGE * HISTORY_PAGES,
            marker,
        )
        return None
