"""The App Home tab and the "Find in archive" message shortcut."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.archive import Archive
from bot.keyterms import key_terms
from bot.schedule import next_digest_time
from bot.slack.listeners import search_message
from bot.slack.mrkdwn import plain_from_slack
from bot.slack.views.blocks import Message
from bot.slack.views.home import HomeFacts, home_view
from bot.slack.views.notices import notice

log = logging.getLogger("newsbot.slack.surfaces")

SHORTCUT_FIND = "find_in_archive"


def home_facts(
    archive: Archive, now: datetime | None = None, user_id: str | None = None
) -> HomeFacts:
    settings = archive.settings
    articles, passages = archive.counts()
    channels = tuple(
        dict.fromkeys([*settings.digest_channels, *(d.channel for d in archive.desks())])
    )
    next_digest = None
    if channels:
        try:
            next_digest = next_digest_time(settings, now or datetime.now(UTC))
        except ValueError:
            next_digest = None
    return HomeFacts(
        articles=articles,
        passages=passages,
        newest=archive.articles()[:5],
        digest_channels=channels,
        next_digest=next_digest,
        timezone=settings.digest_timezone,
        follows=archive.following(user_id) if user_id else (),
    )


def find_in_archive(archive: Archive, message_text: str) -> Message:
    """Passages about a message's key terms (names and numbers first)."""
    terms = key_terms(plain_from_slack(message_text))
    if not terms:
        return notice("That message has no words to search for.")
    return search_message(archive, " ".join(terms), shareable=True)


def register(app: App, archive: Archive) -> None:
    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], client: WebClient) -> None:
        user = event.get("user")
        if event.get("tab") not in (None, "home") or not isinstance(user, str):
            return
        client.views_publish(user_id=user, view=home_view(home_facts(archive, user_id=user)))

    @app.shortcut(SHORTCUT_FIND)
    def on_find(ack: Ack, shortcut: dict[str, Any], respond: Respond) -> None:
        ack()
        message = shortcut.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        answer = find_in_archive(archive, text if isinstance(text, str) else "")
        respond(**answer.as_kwargs(), response_type="ephemeral", replace_original=False)
