"""How an article shows in any message: its headline, byline and date, a passage's position
and a highlighted excerpt of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.models import StoredArticle
from bot.slack.mrkdwn import escape, excerpt, link, truncate
from bot.slack.views.blocks import SECTION_TEXT

PASSAGE_CHARS = 700  # raw characters of a passage shown per hit; longer ones are trimmed


def format_date(value: datetime | None) -> str | None:
    return f"{value.day} {value:%b %Y}" if value else None


def article_meta(article: StoredArticle) -> list[str]:
    """Escaped byline and date of an article, whichever are known."""
    parts = []
    if article.byline:
        parts.append(escape(truncate(article.byline, 200)))
    if date := format_date(article.published):
        parts.append(date)
    return parts


def position(paragraph: int, total: int | None) -> str:
    """'paragraph 3 of 9' (paragraph is 0-based; total may be unknown)."""
    n = paragraph + 1
    return f"paragraph {n} of {total}" if total and total >= n else f"paragraph {n}"


def headline(article: StoredArticle) -> str:
    return "*" + link(article.url, truncate(article.title, 250)) + "*"


def passage_text(text: str, spans: Sequence[tuple[int, int]], limit: int = PASSAGE_CHARS) -> str:
    return excerpt(text, spans, max_chars=limit, limit=SECTION_TEXT - 600)
