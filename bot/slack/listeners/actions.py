"""Buttons: Share to channel, More results, Newest first, Related, and the digest's passages and
"See all" buttons."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.archive import Archive
from bot.digest.ledger import Claim
from bot.slack import payload
from bot.slack.listeners import PAGE_SIZE, search_message
from bot.slack.views.buttons import (
    ACTION_DIGEST_ALL,
    ACTION_DIGEST_PASSAGES,
    ACTION_MORE,
    ACTION_RELATED,
    ACTION_SHARE,
    ACTION_SORT,
    SORTS,
)
from bot.slack.views.digest import article_passages, digest_rest
from bot.slack.views.notices import not_in_channel, notice
from bot.slack.views.search import related_results, shared_passage

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
            **notice("That passage is no longer in the archive.").as_kwargs(),
            response_type="ephemeral",
            replace_original=False,
        )
        return
    passage, article = next(iter(found.values()))
    spans = payload.spans(value.get("s"), len(passage.text))
    total = archive.passage_counts([article.id])[article.id]
    message = shared_passage(
        article, passage.position, passage.text, spans, total=total, user_id=payload.user_of(body)
    )
    try:
        client.chat_postMessage(channel=channel, **message.as_kwargs(), unfurl_links=False)
    except SlackApiError as exc:
        if (exc.response.data or {}).get("error") not in NOT_IN_CHANNEL:
            raise
        respond(
            **not_in_channel().as_kwargs(),
            response_type="ephemeral",
            replace_original=False,
        )


def more_results(archive: Archive, body: dict, action: dict, respond: Respond) -> None:
    """Replace the results with the next page."""
    value = payload.button_value(action)
    query = payload.str_field(value, "q")
    offset = payload.int_field(value, "o", 0, payload.MAX_OFFSET)
    sort = payload.str_field(value, "s") or "relevance"
    if sort not in SORTS:
        raise payload.InvalidButton("'s' is not a sort order")
    ephemeral = payload.as_dict(body.get("container")).get("is_ephemeral") is True
    message = search_message(archive, query, offset=offset, shareable=ephemeral, sort=sort)
    respond(**message.as_kwargs(), replace_original=True)


def related_hit(archive: Archive, action: dict, respond: Respond) -> None:
    """Show the passages of other articles most like one hit, only to the person who asked."""
    passage_id = payload.int_field(payload.button_value(action), "p", 1, payload.MAX_ID)
    result = archive.related(passage_id, limit=PAGE_SIZE)
    totals = archive.passage_counts([h.article.id for h in result.hits]) if result else {}
    respond(
        **related_results(result, totals=totals).as_kwargs(),
        response_type="ephemeral",
        replace_original=False,
    )


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
        **article_passages(items).as_kwargs(),
        response_type="ephemeral",
        replace_original=False,
    )


MAX_EPOCH = 4_102_444_800  # 2100-01-01
MAX_WINDOW = 40 * 86_400  # a digest covers a day or a long weekend, never weeks


def parse_digest_all(action: dict[str, Any]) -> tuple[date, datetime, datetime, int] | None:
    """The "See all" button's value (``bot.slack.views.buttons.digest_all_value``) as
    (date, since, until, shown), or None when it is not one this bot could have made."""
    try:
        value = payload.button_value(action)
        since = payload.int_field(value, "f", 0, MAX_EPOCH)
        until = payload.int_field(value, "u", 0, MAX_EPOCH)
        shown = payload.int_field(value, "n", 0, 1000)
        day = date.fromisoformat(payload.str_field(value, "d", 10))
    except ValueError:  # InvalidButton included
        return None
    if not since < until <= since + MAX_WINDOW:
        return None
    return day, datetime.fromtimestamp(since, UTC), datetime.fromtimestamp(until, UTC), shown


def digest_all(archive: Archive, body: dict, action: dict, client: WebClient, respond: Respond):
    """Post the digest's remaining stories as replies in its thread, once per click.

    The click is claimed in the delivery ledger (keyed by the message and the click's
    ``action_ts``), so a repeated delivery of one click, in this process or another, posts
    nothing. In an ephemeral preview there is no thread: the rest comes back privately.
    """
    parsed = parse_digest_all(action)
    if parsed is None:
        respond(
            **notice("That button is out of date; run `/news digest` again.").as_kwargs(),
            response_type="ephemeral",
            replace_original=False,
        )
        return
    day, since, until, shown = parsed
    channel = payload.channel_of(body)
    # In a desk channel the rest is the desk's stories only, as in the digest it came from.
    digest = archive.digest(since, until, day, channel=channel, max_stories=None)
    messages = digest_rest(digest.stories, min(shown, len(digest.stories)))
    if not messages:
        messages = [notice("No more stories: every story of this digest is shown above.")]
    container = payload.as_dict(body.get("container"))
    thread_ts = payload.as_str(payload.as_dict(body.get("message")).get("ts")) or payload.as_str(
        container.get("message_ts")
    )
    if container.get("is_ephemeral") is not False or not (channel and thread_ts):
        for message in messages:
            respond(**message.as_kwargs(), response_type="ephemeral", replace_original=False)
        return
    ledger = archive.digest_ledger()
    click = payload.as_str(action.get("action_ts")) or payload.as_str(body.get("trigger_id"))
    click = (click or "")[:40]
    claim = ledger.claim(f"{channel}/{thread_ts}/all/{click}", day)
    if not isinstance(claim, Claim):
        log.info("digest %s: the rest was already posted for this click", channel)
        return
    if not ledger.begin_post(claim, since, until):
        return
    ts = None
    try:
        for message in messages:
            answer = client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                **message.as_kwargs(),
                unfurl_links=False,
                unfurl_media=False,
            )
            ts = answer.get("ts")
    except SlackApiError as exc:
        ledger.mark_failed(claim, str((exc.response.data or {}).get("error")), in_doubt=True)
        raise
    ledger.mark_sent(claim, ts)


def register(app: App, archive: Archive) -> None:
    @app.action(ACTION_DIGEST_ALL)
    def on_digest_all(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        digest_all(archive, body, action, client, respond)

    @app.action(re.compile(rf"^{ACTION_DIGEST_PASSAGES}(:\d+)?$"))
    def on_digest_passages(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        digest_passages(archive, action, respond)

    @app.action(re.compile(rf"^{ACTION_SHARE}(:\d+)?$"))
    def on_share(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        share_hit(archive, body, action, client, respond)

    @app.action(ACTION_MORE)
    @app.action(ACTION_SORT)
    def on_more(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        more_results(archive, body, action, respond)

    @app.action(re.compile(rf"^{ACTION_RELATED}(:\d+)?$"))
    def on_related(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        related_hit(archive, action, respond)
