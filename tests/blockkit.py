"""Shared by the view tests: hand-made articles, hits and digests, and the checks every
Block Kit message must pass (Slack's limits, slack_sdk's own models, no live markup)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from fakeslack import iter_blocks_text
from slack_sdk.models.blocks import Block

from bot.digest.build import Digest, Story
from bot.models import Hit, SearchResult, StoredArticle
from bot.slack.views.blocks import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    FALLBACK_TEXT,
    HEADER_TEXT,
    MAX_BLOCKS,
    MESSAGE_CHARS,
    SECTION_TEXT,
    Message,
)

HOSTILE = "<!channel> <@U0BADBAD> <http://evil.test|click> & <#C1> *bold*"
BARE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")


def article(i: int = 1, **kw) -> StoredArticle:
    fields = {
        "id": i,
        "path": f"/a/{i}.txt",
        "title": f"Headline {i}",
        "dek": None,
        "author": "Jane Roe",
        "editor": None,
        "source": "Wire",
        "url": f"https://news.test/{i}",
        "published": datetime(2023, 9, 23, 14, 4, tzinfo=UTC),
        "first_seen": datetime(2024, 1, 1, tzinfo=UTC),
    }
    fields.update(kw)
    return StoredArticle(**fields)


def hit(text: str, word: str, i: int = 1, paragraph: int = 2, art: StoredArticle | None = None):
    start = text.index(word)
    return Hit(art or article(i), paragraph, text, 1.0, ((start, start + len(word)),), 100 + i)


def result(hits, **kw) -> SearchResult:
    return SearchResult(kw.pop("query", "wagner"), tuple(hits), 2.5, **kw)


def assert_valid(message: Message) -> None:
    """Within every limit, and accepted by slack_sdk's own block models."""
    text, blocks = message
    assert text and len(text) <= FALLBACK_TEXT
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks, ensure_ascii=False)) <= MESSAGE_CHARS
    for block in blocks:
        assert Block.parse(block).to_dict() is not None  # raises when a limit is broken
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_TEXT
        buttons = [block.get("accessory") or {}, *(block.get("elements") or [])]
        for b in buttons:
            if b.get("type") == "button":
                assert len(b["text"]["text"]) <= BUTTON_TEXT
                assert len(b["value"]) <= BUTTON_VALUE


def all_text(message: Message) -> str:
    return "\n".join([message.text, *iter_blocks_text(message.blocks)])


def buttons_of(message: Message) -> list[dict]:
    return [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def digest_of(stories: tuple[Story, ...], more: int = 0, day: date = date(2025, 3, 4)) -> Digest:
    """A real ``bot.digest.build.Digest`` around hand-made stories."""
    since = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    until = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    total = sum(len(story.sources) for story in stories) + more
    return Digest(day, since, until, tuple(stories), more, total)
