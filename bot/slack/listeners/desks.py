"""Desk digests: ``/news digest here [QUERY]`` and ``/news digest stop`` in a channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.archive import Archive
from bot.follows import query_hint
from bot.schedule import next_digest_time
from bot.slack.mrkdwn import channel_mention
from bot.slack.views.blocks import Message
from bot.slack.views.follows import quoted
from bot.slack.views.notices import notice

log = logging.getLogger("newsbot.slack.desks")

INVITE = "I am not a member of this channel: type `/invite @newsbot` here, then try again."
MAX_DESK_QUERY = 500


def _is_member(client: WebClient | None, channel: str) -> bool | None:
    """True / False as conversations.info says; None when it cannot tell (then we go on)."""
    if client is None:
        return None
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = (exc.response.data or {}).get("error") if exc.response else None
        if error in ("channel_not_found", "not_in_channel"):
            return False  # a private channel the bot is not in looks like this
        log.info("conversations.info %s: %s", channel, error)
        return None
    except OSError as exc:
        log.info("conversations.info %s: %s", channel, exc)
        return None
    data = info.get("channel") or {}
    if data.get("is_im") or data.get("is_mpim"):
        return None
    return bool(data.get("is_member"))


def subscribe(
    archive: Archive,
    client: WebClient | None,
    channel: str | None,
    user_id: str | None,
    query: str,
) -> Message:
    if not channel or channel.startswith("D"):
        return notice("Type `/news digest here` in the channel that should get the digest.")
    query = " ".join(query.split())[:MAX_DESK_QUERY]
    if query and (hint := query_hint(query)):
        return notice(hint)
    if _is_member(client, channel) is False:
        return notice(INVITE)
    archive.subscribe_desk(channel, query, user_id)
    settings = archive.settings
    try:
        at = next_digest_time(settings, datetime.now(UTC))
        when = f"every {settings.digest_days} at {at:%H:%M} ({settings.digest_timezone})"
    except ValueError:
        when = "on the digest days"
    what = f"the stories matching {quoted(query)}" if query else "every story"
    return notice(
        f"{channel_mention(channel)} now gets the daily digest {when}: {what}."
        " `/news digest stop` ends it."
    )


def unsubscribe(archive: Archive, channel: str | None) -> Message:
    if channel and archive.unsubscribe_desk(channel):
        return notice(f"{channel_mention(channel)} no longer gets the daily digest.")
    if channel and channel in archive.settings.digest_channels:
        return notice(
            "This channel's digest is set by the bot's configuration (DIGEST_CHANNEL);"
            " ask whoever runs the bot."
        )
    return notice("This channel does not get the daily digest.")
