"""Direct messages and @mentions.

A DM is a search answered in the DM; an @mention is answered in a thread under it. Greetings
and ``help`` get the help text. Messages from bots (including this one) and edits, joins and
other message subtypes are ignored, so two bots can never answer each other in a loop.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App, BoltContext, Say

from bot.archive import Archive
from bot.slack.listeners import HelpRegistry, follows, search_message
from bot.slack.mrkdwn import plain_from_slack
from bot.slack.payload import as_str

log = logging.getLogger("newsbot.slack.messages")

GREETINGS = {"help", "hi", "hello", "hey", "hallo", "bonjour", "hola", "?", "usage", "commands"}
# Subtypes that still carry something a person wrote; every other subtype is ignored.
_PERSON_SUBTYPES = {None, "thread_broadcast", "file_share"}


def ignored(event: dict[str, Any], context: BoltContext) -> bool:
    """True (and one DEBUG line) for events not to answer: subtypes without a person's words
    (edits, deletions, joins), messages from bots, and shapes no person's message has."""
    subtype = event.get("subtype")
    if not isinstance(subtype, str | None) or subtype not in _PERSON_SUBTYPES:
        log.debug("ignoring a %s event of subtype %.40r", event.get("type"), subtype)
        return True
    if from_a_bot(event, context):
        log.debug("ignoring a %s event from a bot", event.get("type"))
        return True
    if not as_str(event.get("channel")) or not isinstance(event.get("text", ""), str):
        log.debug("ignoring a %s event without a channel or text", event.get("type"))
        return True
    return False


def from_a_bot(event: dict[str, Any], context: BoltContext) -> bool:
    return bool(
        event.get("bot_id")
        or event.get("bot_profile")
        or event.get("subtype") == "bot_message"
        or not as_str(event.get("user"))
        or event.get("user") == context.bot_user_id
    )


def is_greeting(text: str) -> bool:
    words = re.sub(r"[^\w?]+", " ", text.lower()).split()
    return not words or (len(words) <= 2 and all(w in GREETINGS for w in words))


def direct_message(archive: Archive, registry: HelpRegistry, event: dict, say: Say) -> None:
    """Send me keywords in a direct message and I search the archive for you."""
    text = plain_from_slack(event.get("text") or "")
    if is_greeting(text):
        say(**registry.view().as_kwargs())
        return
    answer = follows.dm_command(archive, as_str(event.get("user")), text)
    if answer is not None:
        say(**answer.as_kwargs(), unfurl_links=False)
        return
    say(**search_message(archive, text, shareable=False).as_kwargs(), unfurl_links=False)


def dm_follows() -> None:
    """Follow, list and unfollow queries in a direct message too, as with `/news`."""


def mention(archive: Archive, registry: HelpRegistry, event: dict, say: Say) -> None:
    """Mention me with keywords in a channel and I answer in a thread."""
    thread_ts = event.get("thread_ts") or event.get("ts")
    text = plain_from_slack(event.get("text") or "")
    message = (
        registry.view() if is_greeting(text) else search_message(archive, text, shareable=False)
    )
    say(**message.as_kwargs(), thread_ts=thread_ts, unfurl_links=False)


def register(app: App, archive: Archive, registry: HelpRegistry) -> None:
    registry.add("a direct message: KEYWORDS", direct_message, example="mali troops")
    registry.add("@newsbot KEYWORDS", mention, example="@newsbot mercenaries")
    registry.add(
        "a direct message: follow QUERY · following · unfollow N",
        dm_follows,
        example="follow wagner mali",
    )

    @app.event("message")
    def on_message(event: dict[str, Any], say: Say, context: BoltContext) -> None:
        if event.get("channel_type") != "im" or ignored(event, context):
            return
        direct_message(archive, registry, event, say)

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Say, context: BoltContext) -> None:
        if ignored(event, context):
            return
        mention(archive, registry, event, say)
