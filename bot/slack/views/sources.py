"""What the archive holds (``/news sources``): counts, then the newest articles."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import StoredArticle
from bot.slack.views.article import article_meta, headline
from bot.slack.views.blocks import SECTION_TEXT, Builder, Message, context, fallback, section


def sources_view(
    articles: Sequence[StoredArticle], *, article_count: int, passage_count: int, limit: int = 20
) -> Message:
    """The counts, then up to ``limit`` of ``articles`` (newest first) and how many more."""
    b = Builder(reserve_blocks=1, reserve_chars=300)
    b.add(
        section(
            f"The archive holds *{article_count}* article{'s' if article_count != 1 else ''}"
            f" (*{passage_count}* searchable passages). Newest first:"
        )
    )
    if not articles:
        b.add(section("_No articles yet. Add text files to the articles folder._"))
    lines: list[str] = []
    shown = 0
    for article in articles[:limit]:
        meta = " · ".join(article_meta(article))
        line = f"• {headline(article)}" + (f" — {meta}" if meta else "")
        if sum(len(x) + 1 for x in lines) + len(line) > SECTION_TEXT - 100:
            if not b.add(section("\n".join(lines))):
                lines = []
                break
            lines = []
        lines.append(line)
        shown += 1
    if lines and not b.add(section("\n".join(lines))):
        shown -= len(lines)
    rest = article_count - shown
    if rest > 0:
        b.tail(context(f"and {rest} more"))
    return Message(fallback(f"The archive holds {article_count} articles."), b.blocks)
