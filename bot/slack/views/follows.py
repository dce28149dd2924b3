"""Follow messages: the alert DM (new articles matching a user's follows) and the list of a
user's follows with an Unfollow button each.

Built with ``slack_sdk``'s Block Kit models, which check Slack's limits when rendered. Every
text from an article or a user (headline, passage, byline, the follow's query) is escaped
before it is placed in a block, so ``<!channel>`` or ``&<>`` in them stays inert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.follows import AlertMatch, UserAlert
from bot.models import Follow
from bot.slack.mrkdwn import cut_mrkdwn, escape, truncate
from bot.slack.views.article import article_meta, headline, passage_text
from bot.slack.views.blocks import CONTEXT_TEXT, MAX_BLOCKS, MESSAGE_CHARS, SECTION_TEXT, Message

ACTION_UNFOLLOW = "unfollow"
ALERT_SHOWN = 10  # matches listed in one DM; the rest are counted ("and N more")
QUERY_SHOWN = 200


def _section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=cut_mrkdwn(text, SECTION_TEXT)), accessory=accessory
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=cut_mrkdwn(text, CONTEXT_TEXT))])


def _rendered(blocks: Sequence[Block]) -> list[dict]:
    return [b.to_dict() for b in blocks]


def _fits(blocks: Sequence[Block]) -> bool:
    rendered = _rendered(blocks)
    return len(rendered) <= MAX_BLOCKS and len(json.dumps(rendered, ensure_ascii=False)) <= (
        MESSAGE_CHARS
    )


def quoted(query: str) -> str:
    """A follow's query as shown: escaped, cut, in code style (never a mention or a link)."""
    return "`" + escape(truncate(query, QUERY_SHOWN)).replace("`", "ʼ") + "`"


def _match_blocks(match: AlertMatch) -> list[Block]:
    meta = article_meta(match.article)
    meta.append("follows " + ", ".join(quoted(q) for q in match.queries[:3]))
    return [
        _section(headline(match.article) + "\n" + passage_text(match.text, match.spans, 500)),
        _context(" · ".join(meta)),
    ]


def alert_message(alert: UserAlert) -> Message:
    """One DM for one user and one ingest batch: the matches, newest first, within limits."""
    total = len(alert.matches)
    noun = "article matches" if total == 1 else "articles match"
    intro = f"*{total}* new {noun} what you follow."
    blocks: list[Block] = [_section(intro)]
    shown = 0
    for match in alert.matches[:ALERT_SHOWN]:
        group = _match_blocks(match)
        # Room for the closing line: a match that would not fit is counted instead.
        if not _fits([*blocks, *group, _context("x" * 200)]):
            break
        blocks.extend(group)
        shown += 1
    tail = "`/news following` lists your follows; `/news unfollow N` stops one."
    if total > shown:
        tail = f"…and {total - shown} more. " + tail
    blocks.append(_context(tail))
    first = alert.matches[0].article.title if alert.matches else ""
    text = escape(truncate(f"{total} new {noun} what you follow: {first}", 300))
    return Message(text, _rendered(blocks))


def following_message(follows: Sequence[Follow]) -> Message:
    """A user's follows, numbered, each with an Unfollow button."""
    if not follows:
        text = "You follow nothing yet. `/news follow QUERY` tells you when new articles match it."
        return Message(text, _rendered([_section(text)]))
    blocks: list[Block] = [_section(f"You follow *{len(follows)}* queries:")]
    for n, follow in enumerate(follows, 1):
        button = ButtonElement(
            text="Unfollow",
            action_id=f"{ACTION_UNFOLLOW}:{n}",
            value=json.dumps({"f": follow.id}),
        )
        block = _section(f"{n}. {quoted(follow.query)}", accessory=button)
        if not _fits([*blocks, block, _context("x" * 200)]):
            blocks.append(_context(f"…and {len(follows) - n + 1} more."))
            break
        blocks.append(block)
    else:
        blocks.append(_context("New articles matching any of them come to you in a DM."))
    return Message(f"You follow {len(follows)} queries.", _rendered(blocks))
