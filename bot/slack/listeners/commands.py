"""The ``/news`` slash command: ack at once, then answer through ``respond()`` (ephemeral).

``/news KEYWORDS`` searches; ``/news help``, ``/news sources`` and ``/news digest`` are
subcommands. A word that is not a subcommand is searched like any other keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.archive import Archive
from bot.slack.listeners import MAX_QUERY, HelpRegistry, desks, follows, search_message
from bot.slack.mrkdwn import plain_from_slack
from bot.slack.payload import as_str
from bot.slack.views.blocks import MAX_BLOCKS, Message, context
from bot.slack.views.digest import preview_note, render_digest
from bot.slack.views.notices import notice
from bot.slack.views.sources import sources_view

log = logging.getLogger("newsbot.slack.commands")

COMMAND = "/news"


@dataclass(frozen=True)
class CommandRequest:
    archive: Archive
    args: str  # the text after the subcommand, unescaped
    user_id: str | None
    channel_id: str | None
    registry: HelpRegistry
    client: WebClient | None = None  # the Web API, for checks such as channel membership


Handler = Callable[[CommandRequest], Message]


@dataclass(frozen=True)
class Subcommand:
    name: str
    handler: Handler
    usage: str
    example: str | None


class Router:
    """Subcommands by name; anything else goes to the default (search)."""

    def __init__(self) -> None:
        self.subcommands: dict[str, Subcommand] = {}

    def subcommand(
        self, name: str, *, usage: str, example: str | None = None
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.subcommands[name] = Subcommand(name, handler, usage, example)
            return handler

        return decorate

    def route(self, text: str) -> tuple[Subcommand | None, str]:
        word, _, rest = text.strip().partition(" ")
        sub = self.subcommands.get(word.lower())
        return (sub, rest.strip()) if sub else (None, text.strip())


router = Router()


def search(req: CommandRequest) -> Message:
    """Search the archive (typos and word forms forgiven); only you see the results."""
    message = search_message(req.archive, req.args, shareable=True)
    if len(req.args) > MAX_QUERY:
        note = context(f"_Your query was cut to its first {MAX_QUERY} characters._")
        message = Message(message.text, [*message.blocks[: MAX_BLOCKS - 1], note])
    return message


QUERY_SYNTAX = '"exact phrase"  -word  -"a phrase"  by:NAME  after:YYYY-MM-DD  before:YYYY-MM-DD'


def query_syntax(req: CommandRequest) -> Message:
    """Narrow any search: a phrase, a word or phrase left out, an author (by:), a date range.

    Both days of a date range are included."""
    return search(req)


@router.subcommand("help", usage=f"{COMMAND} help")
def help_(req: CommandRequest) -> Message:
    """What I can do (this message)."""
    return req.registry.view()


@router.subcommand("sources", usage=f"{COMMAND} sources")
def sources(req: CommandRequest) -> Message:
    """What the archive holds: counts and the newest articles."""
    archive = req.archive
    articles, passages = archive.counts()
    # Newest first by publication date (first seen when the file has none): ingest order is
    # the order of the files on disk, not of the news.
    newest = sorted(
        archive.articles(), key=lambda a: (a.published or a.first_seen, a.id), reverse=True
    )
    return sources_view(newest, article_count=articles, passage_count=passages)


def digest_preview(
    archive: Archive, channel: str | None = None, now: datetime | None = None
) -> Message:
    """The next digest as it would be posted now (nothing posted, the ledger untouched): in a
    desk channel that desk's digest, with only the stories matching its query."""
    preview = archive.preview_digest(channel, now)
    query = archive.desk_query(channel)  # None: not a desk, so the DIGEST_CHANNEL digest
    since = preview.since.astimezone(archive.settings.tz)
    text, blocks = render_digest(preview.content, note=preview_note(preview.channels, since, query))
    return Message(text, blocks)


@router.subcommand("digest", usage=f"{COMMAND} digest")
def digest(req: CommandRequest) -> Message:
    """Preview the daily digest (only you see it)."""
    word, _, rest = req.args.partition(" ")
    if word.lower() == "here":
        return desks.subscribe(req.archive, req.client, req.channel_id, req.user_id, rest.strip())
    if word.lower() == "stop":
        return desks.unsubscribe(req.archive, req.channel_id)
    if word:
        return notice(DIGEST_USAGE)
    return digest_preview(req.archive, req.channel_id)


DIGEST_USAGE = (
    f"`{COMMAND} digest` previews the daily digest; `{COMMAND} digest here [QUERY]` sends it to"
    f" this channel every day (only the stories matching QUERY, when given); `{COMMAND} digest"
    " stop` ends that."
)


@router.subcommand(
    "follow", usage=f"{COMMAND} follow QUERY", example=f"{COMMAND} follow wagner mali -russia"
)
def follow(req: CommandRequest) -> Message:
    """Be told in a DM when new articles match a query (the full search syntax)."""
    return follows.follow(req.archive, req.user_id, req.args)


@router.subcommand("following", usage=f"{COMMAND} following")
def following(req: CommandRequest) -> Message:
    """List what you follow, each with an Unfollow button."""
    return follows.following(req.archive, req.user_id)


@router.subcommand("unfollow", usage=f"{COMMAND} unfollow N", example=f"{COMMAND} unfollow 2")
def unfollow(req: CommandRequest) -> Message:
    """Stop following query number N of your list."""
    return follows.unfollow(req.archive, req.user_id, req.args)


def digest_here(req: CommandRequest) -> Message:
    """Send this channel the daily digest, only the stories matching QUERY if given."""
    return digest(req)


def digest_stop(req: CommandRequest) -> Message:
    """Stop this channel's daily digest."""
    return digest(req)


def register(app: App, archive: Archive, registry: HelpRegistry) -> None:
    registry.add(
        f"{COMMAND} KEYWORDS",
        search,
        example=f"{COMMAND} wagner mali -russia by:brooke after:2023-01-01",
    )
    registry.add(
        QUERY_SYNTAX,
        query_syntax,
        example=f'{COMMAND} "russian mercenaries" -wagner by:brooke before:2023-10-01',
    )
    for sub in router.subcommands.values():
        registry.add(sub.usage, sub.handler, example=sub.example)
    registry.add(
        f"{COMMAND} digest here [QUERY]", digest_here, example=f"{COMMAND} digest here football"
    )
    registry.add(f"{COMMAND} digest stop", digest_stop)

    @app.command(COMMAND)
    def on_news(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        text = plain_from_slack(as_str(command.get("text")) or "")
        sub, args = router.route(text)
        user, channel = as_str(command.get("user_id")), as_str(command.get("channel_id"))
        req = CommandRequest(archive, args, user, channel, registry, client)
        if sub is None and not args:
            sub = router.subcommands["help"]
        message = sub.handler(req) if sub else search(req)
        respond(**message.as_kwargs(), response_type="ephemeral")
