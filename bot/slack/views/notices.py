"""Short messages the bot wrote itself: notices, the apology for a failure, "not in channel"."""

from __future__ import annotations

from bot.slack import mrkdwn
from bot.slack.views.blocks import Message, fallback, section


def notice(text: str) -> Message:
    """A short message the bot wrote itself (mrkdwn allowed; never pass untrusted text)."""
    return Message(fallback(mrkdwn.plain_from_slack(text)), [section(text)])


def apology() -> Message:
    return notice(":warning: Sorry, something went wrong while answering. Please try again.")


def not_in_channel() -> Message:
    return notice(
        ":no_entry: I'm not a member of this channel, so I can't post here. "
        "Invite me with `/invite @newsbot` and try again."
    )
