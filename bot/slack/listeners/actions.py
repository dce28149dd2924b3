"""Buttons: Share to channel, More results (and the digest's passages button)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.archive import Archive
from bot.slack import payload, views
from bot.slack.listeners import search_message

log = logging.getLogger("newsbot.slack.actions")

NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


def share_hit(archive: Archive, body: dict, action: dict, client: WebClient, respond: Respond):
    """Post one result visibly in the channel, attributed to the person who shared it."""
    value = payload.button_value(action)
    channel = payload.channel_of(body)
    if channel is None:
        raise payload.InvalidButton("the click names no channel")
    found = archive.passages_by_id([payload.int_field(value, "p")])
    if not found:
        respond(
            **views.notice("That passage is no longer in the archive.").as_kwargs(),
            response_type="ephemeral",
            replace_original=False,
        )
        return
    passage, article = next(iter(found.values()))
    spans = payload.spans(value.get("s"), len(passage.text))
    total = len(archive.passages_of(article.id))
    message = views.shared_passage(
        article, passage.position, passage.text, spans, total=total, user_id=payload.user_of(body)
    )
    try:
        client.chat_postMessage(channel=channel, **message.as_kwargs(), unfurl_links=False)
    except SlackApiError as exc:
        if (exc.response.data or {}).get("error") not in NOT_IN_CHANNEL:
            raise
        respond(
            **views.not_in_channel().as_kwargs(),
            response_type="ephemeral",
            replace_original=False,
        )


def more_results(archive: Archive, body: dict, action: dict, respond: Respond) -> None:
    """Replace the results with the next page."""
    value = payload.button_value(action)
    query = payload.str_field(value, "q")
    offset = payload.int_field(value, "o", 0, payload.MAX_OFFSET)
    ephemeral = payload.as_dict(body.get("container")).get("is_ephemeral") is True
    message = search_message(archive, query, offset=offset, shareable=ephemeral)
    respond(**message.as_kwargs(), replace_original=True)


def digest_passages(archive: Archive, action: dict, respond: Respond) -> None:
    """Show the opening passages of a digest story's articles, only to the person who asked."""
    ids = payload.int_list(payload.button_value(action), "a")
    items = []
    for article_id in ids[:10]:
        article = archive.article(article_id)
        passages = archive.passages_of(article_id) if article else []
        if article and passages:
            items.append((article, [p.text for p in passages[:2]], len(passages)))
    respond(
        **views.article_passages(items).as_kwargs(),
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: App, archive: Archive) -> None:
    @app.action(re.compile(rf"^{views.ACTION_DIGEST_PASSAGES}(:\d+)?$"))
    def on_digest_passages(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        digest_passages(archive, action, respond)

    @app.action(re.compile(rf"^{views.ACTION_SHARE}(:\d+)?$"))
    def on_share(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        share_hit(archive, body, action, client, respond)

    @app.action(views.ACTION_MORE)
    def on_more(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        more_results(archive, body, action, respond)
