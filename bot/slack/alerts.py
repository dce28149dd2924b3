"""Sending follow alerts: one DM per user per batch of new articles (``bot.follows``).

``newsbot serve`` registers an ingest listener on the archive; it wakes a thread that takes the
queued new articles, runs the follows over them (the alerts come back already claimed in the
alert ledger) and DMs each user through the Web API. The thread also looks every
``poll_seconds``, for articles that ``newsbot ingest`` added in another process.
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.archive import Archive
from bot.follows import UserAlert
from bot.logs import redact
from bot.models import IngestReport
from bot.slack.digest_post import posting_client
from bot.slack.views.follows import alert_message

log = logging.getLogger("newsbot.slack.alerts")

POLL_SECONDS = 30.0


class AlertSender:
    def __init__(self, archive: Archive, client: WebClient) -> None:
        self.archive = archive
        # Only the retries that cannot send a DM twice (refused connections, 429, 5xx answers).
        self.client = posting_client(client)
        self._lock = threading.Lock()

    def send_pending(self) -> int:
        """Take the queued new articles and send the alerts; returns the DMs sent."""
        sent = 0
        with self._lock:  # one batch at a time in this process
            while True:
                alerts = self.archive.take_alerts()
                if not alerts:
                    return sent
                for alert in alerts:
                    sent += self._send(alert)

    def _send(self, alert: UserAlert) -> int:
        message = alert_message(alert)
        try:
            self.client.chat_postMessage(
                channel=alert.user_id,
                **message.as_kwargs(),
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:
            # The claims stay: a DM that failed (429 after retries, 5xx, user_not_found,
            # account_inactive) or timed out may still have been delivered, and an alert is
            # worth less than a duplicate. The ledger says 'failed' with the reason; one line.
            error = _describe(exc)
            self.archive.mark_alerts(alert.pairs, "failed", error)
            log.warning(
                "follow alert to %s not sent (%d articles): %s",
                alert.user_id,
                len(alert.matches),
                error,
            )
            return 0
        self.archive.mark_alerts(alert.pairs, "sent")
        log.info("follow alert sent to %s: %d articles", alert.user_id, len(alert.matches))
        return 1

    def start(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> threading.Thread:
        """Listen to this process's ingests, and poll for other processes' new articles."""
        self.archive.add_ingest_listener(self._safe_on_ingest)

        def run() -> None:
            while True:
                self._safe_send()
                if stop.wait(poll_seconds):
                    return

        thread = threading.Thread(target=run, name="follow-alerts", daemon=True)
        thread.start()
        return thread

    def _safe_on_ingest(self, report: IngestReport) -> None:
        """The ingest listener: send at once, in the ingesting thread (a batch's DMs are few)."""
        self._safe_send()

    def _safe_send(self) -> None:
        try:
            self.send_pending()
        except Exception as exc:
            log.warning("follow alerts not sent: %s", _describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return f"Slack answered {data.get('error') or exc.response.status_code}"
    return redact(f"{type(exc).__name__}: {exc}")
