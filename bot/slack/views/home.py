"""The App Home tab: what the archive holds, the digest channels and how to search.

Built with ``slack_sdk``'s Block Kit models, which check Slack's limits when rendered. Article
text is escaped before it is placed in any block, as everywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.models import Follow, StoredArticle
from bot.slack.mrkdwn import channel_mention, cut_mrkdwn, escape, truncate
from bot.slack.views.article import article_meta, headline
from bot.slack.views.blocks import SECTION_TEXT

HOME_BLOCKS = 100  # Slack's limit for a home tab
HOME_FOLLOWS = 25


@dataclass(frozen=True, slots=True)
class HomeFacts:
    """What the home tab shows, gathered by the listener from the archive and the settings."""

    articles: int
    passages: int
    newest: Sequence[StoredArticle]
    digest_channels: Sequence[str]
    next_digest: datetime | None
    timezone: str
    follows: Sequence[Follow] = ()  # the user's, each shown with an Unfollow button


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut_mrkdwn(text, SECTION_TEXT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=cut_mrkdwn(text, 2000))])


def home_view(facts: HomeFacts) -> dict[str, Any]:
    """The home tab as the ``view`` argument of ``views.publish``."""
    blocks: list[Block] = [
        HeaderBlock(text="The newsroom archive"),
        _section(f"*{facts.articles:,}* articles, *{facts.passages:,}* passages searchable."),
    ]
    if facts.newest:
        blocks.append(_section("*Newest articles*"))
        for article in facts.newest[:5]:
            blocks.append(_section(headline(article)))
            if meta := article_meta(article):
                blocks.append(_context(" · ".join(meta)))
    else:
        blocks.append(_context("Nothing in the archive yet."))
    blocks += [DividerBlock(), _section("*What you follow*")]
    if facts.follows:
        for n, follow in enumerate(facts.follows[:HOME_FOLLOWS], 1):
            query = escape(truncate(follow.query, 200)).replace("`", "ʼ")
            button = ButtonElement(
                text="Unfollow", action_id=f"unfollow:{n}", value=json.dumps({"f": follow.id})
            )
            blocks.append(
                SectionBlock(text=MarkdownTextObject(text=f"{n}. `{query}`"), accessory=button)
            )
        if len(facts.follows) > HOME_FOLLOWS:
            blocks.append(
                _context(f"…and {len(facts.follows) - HOME_FOLLOWS} more: `/news following`.")
            )
    else:
        blocks.append(
            _context("Nothing yet: `/news follow QUERY` tells you when new articles match.")
        )
    blocks += [DividerBlock(), _section("*Daily digest*")]
    if facts.digest_channels:
        where = ", ".join(channel_mention(c) for c in facts.digest_channels[:20])
        when = (
            f"next on {facts.next_digest:%a %d %b at %H:%M} ({facts.timezone})"
            if facts.next_digest
            else "no digest day is scheduled"
        )
        blocks.append(_section(f"Posted to {where}; {when}."))
    else:
        blocks.append(_context("No digest channel is set up yet (DIGEST_CHANNEL)."))
    blocks += [
        DividerBlock(),
        _section(
            "*How to search*\n"
            "`/news KEYWORDS` in any channel, or write to me here in *Messages*. "
            "Typos and word forms are forgiven; `/news help` lists the rest."
        ),
        _context("On any message: *More actions* (⋮) › *Find in archive* finds passages about it."),
    ]
    return View(type="home", blocks=blocks[:HOME_BLOCKS]).to_dict()
