"""Search answers: the results of a search, the passages related to one hit, and a passage
shared visibly in a channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.models import Hit, SearchResult, StoredArticle
from bot.slack import mrkdwn
from bot.slack.mrkdwn import escape, truncate
from bot.slack.views.article import article_meta, headline, passage_text, position
from bot.slack.views.blocks import (
    Block,
    Builder,
    Message,
    button,
    context,
    divider,
    fallback,
    section,
)
from bot.slack.views.buttons import (
    ACTION_MORE,
    ACTION_RELATED,
    ACTION_SHARE,
    ACTION_SORT,
    MAX_QUERY_SHOWN,
    more_value,
    related_value,
)
from bot.slack.views.buttons import (
    share_value as share_button_value,
)
from bot.slack.views.notices import notice


def hit_blocks(
    hit: Hit,
    *,
    total: int | None,
    share_value: str | None,
    index: int = 0,
    related: bool = False,
) -> list[Block]:
    text = headline(hit.article) + "\n" + passage_text(hit.text, hit.spans)
    accessory = (
        button("Share to channel", f"{ACTION_SHARE}:{index}", share_value)
        if share_value is not None
        else None
    )
    meta = [*article_meta(hit.article), position(hit.paragraph, total)]
    blocks = [section(text, accessory), context(" · ".join(meta))]
    if related:
        found = button("Related", f"{ACTION_RELATED}:{index}", related_value(hit))
        blocks.append({"type": "actions", "elements": [found]})
    return blocks


def search_results(
    result: SearchResult,
    *,
    totals: Mapping[int, int] | None = None,
    shareable: bool = True,
    query: str | None = None,
    sort: str = "relevance",
    related: bool = True,
) -> Message:
    """The answer to a search: hits with highlights, "did you mean", paging, sorting and
    sharing.

    ``totals`` maps article ids to their paragraph counts (for "paragraph 3 of 9");
    ``shareable`` adds a Share to channel button per hit (for ephemeral answers), ``related``
    a Related button; ``sort`` is the order shown ("relevance" or "newest").
    """
    totals = totals or {}
    asked = query if query is not None else result.query
    shown_query = escape(truncate(asked, MAX_QUERY_SHOWN))
    b = Builder(reserve_blocks=2, reserve_chars=2500)
    if result.corrected:
        corrected = escape(truncate(result.corrected, MAX_QUERY_SHOWN))
        b.add(
            section(
                f"Did you mean *{corrected}*? Showing results for it (you typed _{shown_query}_)."
            )
        )
    if not result.hits:
        hint = result.hint or "Nothing in the archive matches."
        b.add(section(f"No results for *{shown_query}*. {escape(hint)}"))
        b.tail(context(f"Searched in {result.took_ms:.0f} ms"))
        return Message(fallback(f"No results for “{asked}”. {hint}"), b.blocks)

    first = result.offset + 1
    if not result.corrected:
        b.add(section(f"Results for *{shown_query}*"))
    shown = 0
    for i, hit in enumerate(result.hits):
        share = share_button_value(hit, asked) if shareable else None
        group = hit_blocks(
            hit, total=totals.get(hit.article.id), share_value=share, index=i, related=related
        )
        if not b.add(*([divider()] if shown else []), *group):
            break
        shown += 1
    last = result.offset + shown
    footer = f"Results {first}–{last} · {result.took_ms:.0f} ms"
    cut = len(result.hits) - shown
    if cut:
        footer += f" · {cut} more not shown (message size limit)"
    if sort == "newest":
        footer += " · newest first"
    tail: list[Block] = [context(footer)]
    buttons = []
    if result.has_more or cut:
        more = more_value(result.corrected or asked, last, sort)
        buttons.append(button("More results", ACTION_MORE, more))
    other = "relevance" if sort == "newest" else "newest"
    label = "Best matches first" if other == "relevance" else "Newest first"
    buttons.append(button(label, ACTION_SORT, more_value(result.corrected or asked, 0, other)))
    tail.insert(0, {"type": "actions", "elements": buttons})
    b.tail(*tail)
    titles = "; ".join(h.article.title for h in result.hits[:shown])
    return Message(fallback(f"Results for “{asked}”: {titles}"), b.blocks)


def related_results(result: SearchResult | None, *, totals: Mapping[int, int]) -> Message:
    """The passages of other articles most like one hit (only the person who asked sees it)."""
    if result is None:
        return notice("That passage is no longer in the archive.")
    b = Builder(reserve_blocks=1, reserve_chars=300)
    b.add(section(f"*Related* {escape(truncate(result.query, MAX_QUERY_SHOWN))}"))
    if not result.hits:
        b.add(section(escape(result.hint or "Nothing related found.")))
    shown = 0
    for i, hit in enumerate(result.hits):
        group = hit_blocks(hit, total=totals.get(hit.article.id), share_value=None, index=i)
        if not b.add(*([divider()] if shown else []), *group):
            break
        shown += 1
    titles = "; ".join(h.article.title for h in result.hits[:shown])
    return Message(fallback(f"Related passages: {titles or 'none'}"), b.blocks)


def shared_passage(
    article: StoredArticle,
    paragraph: int,
    text: str,
    spans: Sequence[tuple[int, int]],
    *,
    total: int | None,
    user_id: str | None,
) -> Message:
    """A passage shared visibly in a channel, attributed to the person who shared it."""
    body = headline(article) + "\n" + passage_text(text, spans, limit=1500)
    meta = [*article_meta(article), position(paragraph, total)]
    blocks = [
        section(body),
        context(" · ".join(meta)),
        context(f"Shared by {mrkdwn.user_mention(user_id)} from the archive"),
    ]
    return Message(fallback(f"{article.title} (shared from the archive)"), blocks)
