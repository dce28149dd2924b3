"""Follow, list and unfollow: the ``/news`` subcommands, the same words in a DM, and the
Unfollow button. The core (``bot.follows``) is reached through the archive."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.archive import Archive
from bot.models import Follow
from bot.slack import payload
from bot.slack.views.blocks import Message
from bot.slack.views.follows import ACTION_UNFOLLOW, following_message, quoted
from bot.slack.views.notices import notice

log = logging.getLogger("newsbot.slack.follows")

DM_WORDS = ("follow", "following", "unfollow")
NO_USER = "I cannot tell who asked; try again from Slack."


def follow(archive: Archive, user_id: str | None, query: str) -> Message:
    if not user_id:
        return notice(NO_USER)
    saved = archive.follow(user_id, query)
    if not isinstance(saved, Follow):
        return notice(saved)  # the search hint, or why not, in one line
    return notice(
        f"Following {quoted(saved.query)}. New articles with a matching passage come to you"
        " in a DM; `/news following` lists what you follow."
    )


def following(archive: Archive, user_id: str | None) -> Message:
    if not user_id:
        return notice(NO_USER)
    return following_message(archive.following(user_id))


def unfollow(archive: Archive, user_id: str | None, args: str) -> Message:
    if not user_id:
        return notice(NO_USER)
    mine = archive.following(user_id)
    word = args.strip().lstrip("#")
    n = int(word) if word.isdigit() and len(word) < 6 else 0
    if not 1 <= n <= len(mine):
        if not mine:
            return notice("You follow nothing.")
        return notice(
            f"Give a number from 1 to {len(mine)} as `/news following` lists them,"
            " e.g. `/news unfollow 1`."
        )
    gone = mine[n - 1]
    archive.unfollow(user_id, gone.id)
    return notice(f"Stopped following {quoted(gone.query)}.")


def unfollow_clicked(
    archive: Archive, body: dict[str, Any], action: dict, respond: Respond, client: WebClient
) -> None:
    """Stop following one query (the button beside it); the list (or App Home) is redrawn."""
    follow_id = payload.int_field(payload.button_value(action), "f", 1, payload.MAX_ID)
    user_id = payload.user_of(body)
    if not user_id:
        raise payload.InvalidButton("the click names no user")
    # Only the clicker's own follow can go: the id is checked against the user in the store.
    archive.unfollow(user_id, follow_id)
    if payload.as_dict(body.get("container")).get("type") == "view":  # the App Home tab
        from bot.slack.listeners.surfaces import home_facts
        from bot.slack.views.home import home_view

        client.views_publish(user_id=user_id, view=home_view(home_facts(archive, user_id=user_id)))
        return
    respond(**following_message(archive.following(user_id)).as_kwargs(), replace_original=True)


def dm_command(archive: Archive, user_id: str | None, text: str) -> Message | None:
    """``follow QUERY``, ``following`` or ``unfollow N`` written in a DM; None for anything else."""
    word, _, rest = text.strip().partition(" ")
    word = word.lower()
    if word == "follow" and rest.strip():
        return follow(archive, user_id, rest)
    if word == "following" and not rest.strip():
        return following(archive, user_id)
    if word == "unfollow" and rest.strip():
        return unfollow(archive, user_id, rest)
    return None


def register(app: App, archive: Archive) -> None:
    @app.action(re.compile(rf"^{ACTION_UNFOLLOW}(:\d+)?$"))
    def on_unfollow(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
    ) -> None:
        ack()
        unfollow_clicked(archive, body, action, respond, client)
