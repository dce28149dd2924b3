"""Every Block Kit message the bot sends, built from plain core data.

Views never call Slack and never search: they take results and return a ``Message`` (fallback
text plus blocks) that is always within Slack's limits. Article text and user queries are
escaped (``mrkdwn.escape``) before they are placed in any block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.models import Hit, SearchResult, StoredArticle
from bot.slack import mrkdwn
from bot.slack.mrkdwn import (
    cut_mrkdwn,
    escape,
    excerpt,
    link,
    safe_url,
    truncate,
    truncate_escaped,
)

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONTEXT_TEXT = 2000
MESSAGE_CHARS = 12_000  # serialized blocks; Slack refuses messages around 13k+
FALLBACK_TEXT = 3000

PASSAGE_CHARS = 700  # raw characters of a passage shown per hit; longer ones are trimmed
MAX_QUERY_SHOWN = 200

ACTION_SHARE = "share_hit"
ACTION_MORE = "more_results"
ACTION_DIGEST_PASSAGES = "digest_passages"
ACTION_DIGEST_ALL = "digest_all"
ACTION_RELATED = "related_hit"
ACTION_SORT = "sort_results"
SORTS = ("relevance", "newest")
MAX_BUTTON_QUERY = 900  # characters of the query a More results / sort button carries

Block = dict[str, Any]


class Message(NamedTuple):
    """Fallback text and blocks; unpacks as ``text, blocks``."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class HelpEntry:
    """One line of help: how to use a feature, what it does, and an example."""

    usage: str
    summary: str
    example: str | None = None


# -- small block builders ----------------------------------------------------------------------
def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut_mrkdwn(text, SECTION_TEXT)},
    }
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(t, CONTEXT_TEXT)} for t in texts if t][
            :10
        ],
    }


def header(text: str) -> Block:
    """A header from plain text the bot may not have written (plain_text is never parsed)."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT), "emoji": True},
    }


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    if len(value) > BUTTON_VALUE:
        raise ValueError(f"button value is {len(value)} characters, over {BUTTON_VALUE}")
    block: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        block["style"] = style
    return block


def divider() -> Block:
    return {"type": "divider"}


def _size(blocks: Sequence[Block]) -> int:
    return len(json.dumps(list(blocks), ensure_ascii=False))


def _fallback(text: str) -> str:
    return truncate_escaped(text, FALLBACK_TEXT)


def fits(blocks: Sequence[Block]) -> bool:
    """True when ``blocks`` is within the message limits (count and total size)."""
    return len(blocks) <= MAX_BLOCKS and _size(blocks) <= MESSAGE_CHARS


class _Builder:
    """Adds groups of blocks while the message stays within limits, keeping room for a tail."""

    def __init__(self, reserve_blocks: int = 2, reserve_chars: int = 1200) -> None:
        self.blocks: list[Block] = []
        self.reserve_blocks = reserve_blocks
        self.reserve_chars = reserve_chars
        self._chars = 2

    def add(self, *group: Block) -> bool:
        size = sum(_size([b]) + 1 for b in group)
        if (
            len(self.blocks) + len(group) > MAX_BLOCKS - self.reserve_blocks
            or self._chars + size > MESSAGE_CHARS - self.reserve_chars
        ):
            return False
        self.blocks.extend(group)
        self._chars += size
        return True

    def tail(self, *group: Block) -> None:
        """Blocks that must end the message (counted in the reserve)."""
        for block in group:
            if len(self.blocks) < MAX_BLOCKS and _size([*self.blocks, block]) <= MESSAGE_CHARS:
                self.blocks.append(block)


# -- formatting helpers ------------------------------------------------------------------------
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


def _share_value(hit: Hit, query: str) -> str:
    spans = [list(s) for s in hit.spans[:40]]
    query = query[:MAX_QUERY_SHOWN]
    while True:
        value = json.dumps({"p": hit.passage_id, "s": spans, "q": query}, ensure_ascii=False)
        if len(value) <= BUTTON_VALUE:
            return value
        spans, query = spans[: len(spans) // 2], query[: len(query) // 2]


def more_value(query: str, offset: int, sort: str = "relevance") -> str:
    query = query[:MAX_BUTTON_QUERY]  # Slack queries are shorter (listeners.MAX_QUERY)
    while True:
        data: dict[str, Any] = {"q": query, "o": offset}
        if sort != "relevance":
            data["s"] = sort
        value = json.dumps(data, ensure_ascii=False)
        if len(value) <= BUTTON_VALUE:
            return value
        query = query[: len(query) * 3 // 4]


def related_value(hit: Hit) -> str:
    return json.dumps({"p": hit.passage_id})


def parse_value(value: str | None) -> dict[str, Any]:
    """A button value written by this module; {} when it is not one."""
    try:
        data = json.loads(value if isinstance(value, str) else "")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


# -- search results ----------------------------------------------------------------------------
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
    b = _Builder(reserve_blocks=2, reserve_chars=2500)
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
        return Message(_fallback(f"No results for “{asked}”. {hint}"), b.blocks)

    first = result.offset + 1
    if not result.corrected:
        b.add(section(f"Results for *{shown_query}*"))
    shown = 0
    for i, hit in enumerate(result.hits):
        share = _share_value(hit, asked) if shareable else None
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
    return Message(_fallback(f"Results for “{asked}”: {titles}"), b.blocks)


def related_results(result: SearchResult | None, *, totals: Mapping[int, int]) -> Message:
    """The passages of other articles most like one hit (only the person who asked sees it)."""
    if result is None:
        return notice("That passage is no longer in the archive.")
    b = _Builder(reserve_blocks=1, reserve_chars=300)
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
    return Message(_fallback(f"Related passages: {titles or 'none'}"), b.blocks)


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
    return Message(_fallback(f"{article.title} (shared from the archive)"), blocks)


# -- help, sources, errors ---------------------------------------------------------------------
def help_view(entries: Sequence[HelpEntry], *, intro: str | None = None) -> Message:
    """Help built from the registered handlers' own descriptions."""
    b = _Builder(reserve_blocks=1, reserve_chars=200)
    b.add(section(intro or "I search the newsroom archive and forgive typos. Here is what I do:"))
    for entry in entries:
        line = f"`{escape(entry.usage)}`  {escape(entry.summary)}"
        if entry.example:
            line += f"\n_e.g._ `{escape(entry.example)}`"
        b.add(section(line))
    usages = ", ".join(e.usage for e in entries)
    return Message(_fallback(f"How to use me: {usages}"), b.blocks)


def sources_view(
    articles: Sequence[StoredArticle], *, article_count: int, passage_count: int, limit: int = 20
) -> Message:
    """What the archive holds: counts, then the newest articles."""
    b = _Builder(reserve_blocks=1, reserve_chars=300)
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
    return Message(_fallback(f"The archive holds {article_count} articles."), b.blocks)


def notice(text: str) -> Message:
    """A short message the bot wrote itself (mrkdwn allowed; never pass untrusted text)."""
    return Message(_fallback(mrkdwn.plain_from_slack(text)), [section(text)])


def apology() -> Message:
    return notice(":warning: Sorry, something went wrong while answering. Please try again.")


def not_in_channel() -> Message:
    return notice(
        ":no_entry: I'm not a member of this channel, so I can't post here. "
        "Invite me with `/invite @newsbot` and try again."
    )


# -- digest --------------------------------------------------------------------------------------
DIGEST_SOURCES_SHOWN = 3
DIGEST_IDS_IN_BUTTON = 40


def _story_sources(headline: str, sources: Sequence[StoredArticle]) -> str:
    """'2 sources: <url|Title> (byline · date); …', every source counted also listed.

    The article the headline came from is not named again when a link or byline identifies it:
    just a link to it and its byline; with neither, its title stands for it.
    """
    shown = []
    for article in sources[:DIGEST_SOURCES_SHOWN]:
        meta = " · ".join(article_meta(article))
        title = truncate_escaped(article.title, 120)
        if article.title.strip() == headline.strip():
            entry = link(article.url, "full article") if safe_url(article.url) else ""
            entry = f"{entry} ({meta})" if entry and meta else entry or meta or title
        else:
            entry = link(article.url, truncate(article.title, 120)) + (f" ({meta})" if meta else "")
        shown.append(entry or title)
    if not shown or (len(sources) == 1 and shown[0] == truncate_escaped(headline, 120)):
        return ""  # one source that the headline already names: nothing to add
    n = len(sources)
    text = f"{n} source{'s' if n != 1 else ''}: " + "; ".join(shown)
    if n > DIGEST_SOURCES_SHOWN:
        rest = n - DIGEST_SOURCES_SHOWN
        text += f"; and {rest} more source{'s' if rest != 1 else ''}"
    return text


def _sentence(text: str) -> str:
    """A summary sentence that ends like one, so joined sentences never run together."""
    text = str(text).strip()
    return text + "." if text and text[-1].isalnum() else text


def _differ_line(story: Any) -> str:
    """':warning: Sources differ: death toll 12 (Coastal Wire) / 14 (Harbour Gazette)'."""
    lines = [d.line() for d in getattr(story, "disagreements", ()) or ()]
    if not lines:
        return ""
    return ":warning: Sources differ: " + escape("; ".join(lines))


def _story_group(i: int, story: Any) -> list[Block]:
    """One story: headline, summary and any "Sources differ" line, a passages button, sources."""
    summary = " ".join(_sentence(s) for s in (story.summary or ()))
    text = f"*{truncate_escaped(str(story.headline), 300)}*"
    if summary:
        text += "\n" + truncate_escaped(summary, SECTION_TEXT - 700)
    if differ := _differ_line(story):
        text += "\n" + cut_mrkdwn(differ, 280)
    ids = [a.id for a in story.sources[:DIGEST_IDS_IN_BUTTON]]
    accessory = button("See passages", f"{ACTION_DIGEST_PASSAGES}:{i}", json.dumps({"a": ids}))
    group = [section(text, accessory)]
    if sources := _story_sources(str(story.headline), story.sources):
        group.append(context(sources))
    return group


def digest_all_value(digest: Any, shown: int) -> str:
    """The "See all" button's value: the digest's window and date, and how many were shown."""
    return json.dumps(
        {
            "d": digest.date.isoformat(),
            "f": int(digest.since.timestamp()),
            "u": math.ceil(digest.until.timestamp()),
            "n": shown,
        }
    )


def _see_all(digest: Any, shown: int, total: int) -> Block:
    element = ButtonElement(
        text=truncate(f"See all {total} stories", BUTTON_TEXT),
        action_id=ACTION_DIGEST_ALL,
        value=digest_all_value(digest, shown),
    )
    return ActionsBlock(elements=[element]).to_dict()


def render_digest(digest: Any, *, note: str | None = None) -> tuple[str, list[Block]]:
    """The daily digest: one section per story (headline, summary, sources, a passages button).

    ``digest`` follows ``bot.digest.build.Digest``: ``date``, ``stories`` (each with ``headline``,
    ``summary`` sentences and ``sources`` articles) and ``more`` (stories left out by the
    builder). Stories that do not fit Slack's limits are counted into the closing "and N more",
    with a "See all N stories" button that posts the rest in the digest's thread.
    ``note`` (mrkdwn the bot wrote) goes under the header, e.g. to mark a preview.
    """
    stories = list(getattr(digest, "stories", ()) or ())
    day = getattr(digest, "digest_date", None) or getattr(digest, "date", None)
    title = f"Newsroom digest, {day.day} {day:%b %Y}" if day else "Newsroom digest"
    b = _Builder(reserve_blocks=2, reserve_chars=600)
    b.add({"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_TEXT]}})
    if note:
        b.add(context(note))
    if not stories:
        b.add(section("Nothing new arrived in the archive since the last digest."))
        return _fallback(f"{title}: nothing new."), b.blocks
    shown = 0
    for i, story in enumerate(stories):
        if not b.add(*([divider()] if shown else []), *_story_group(i, story)):
            break
        shown += 1
    more = int(getattr(digest, "more", 0) or 0) + len(stories) - shown
    if more > 0:
        b.tail(context(f"and {more} more {'story' if more == 1 else 'stories'}"))
        if hasattr(digest, "since") and hasattr(digest, "until") and day:
            b.tail(_see_all(digest, shown, shown + more))
    headlines = "; ".join(str(s.headline) for s in stories[:shown])
    return _fallback(f"{title}: {headlines}"), b.blocks


def digest_rest(stories: Sequence[Any], start: int) -> list[Message]:
    """Stories ``start`` and on, numbered from ``start + 1``, as thread replies within limits."""
    messages: list[Message] = []
    b = _Builder(reserve_blocks=0, reserve_chars=200)
    first = start
    for n, story in enumerate(stories[start:], start):
        group = [section(f"*{n + 1}.*"), *_story_group(n, story)]
        if not b.add(*group):
            if b.blocks:
                messages.append(_rest_message(b.blocks, first, n))
            b = _Builder(reserve_blocks=0, reserve_chars=200)
            first = n
            if not b.add(*group):  # one story alone too big: never, but never loop either
                continue
    if b.blocks:
        messages.append(_rest_message(b.blocks, first, len(stories)))
    return messages


def _rest_message(blocks: list[Block], first: int, end: int) -> Message:
    return Message(_fallback(f"Digest stories {first + 1}–{end}"), blocks)


def channel_mention(channel_id: str) -> str:
    """``<#C123>`` for a well-formed channel id; anything else escaped, without control
    characters (each is six characters of JSON: a long run pushed the note out of the message)."""
    if re.fullmatch(r"[CG][A-Z0-9]{2,}", channel_id):
        return f"<#{channel_id}>"
    return escape(truncate(re.sub(r"[\x00-\x1f\x7f]", "", channel_id), 200))


def preview_note(channels: Sequence[str], since: datetime) -> str:
    """The line that marks a digest as a private preview: where it goes, what it covers."""
    where = ", ".join(channel_mention(c) for c in channels) or "no channel (DIGEST_CHANNEL unset)"
    return (
        f":eyes: Preview, only you see this: the next digest for {where} as it stands now,"
        f" covering articles since {format_date(since)} {since:%H:%M %Z}."
    )


def article_passages(items: Sequence[tuple[StoredArticle, Sequence[str], int]]) -> Message:
    """Articles with their opening passages: (article, passages shown, total passages)."""
    b = _Builder(reserve_blocks=1, reserve_chars=200)
    shown = 0
    for article, passages, total in items:
        body = "\n\n".join(passage_text(p, (), limit=600) for p in passages)
        meta = [*article_meta(article), f"{len(passages)} of {total} paragraphs"]
        group = [
            section(headline(article) + ("\n" + body if body else "")),
            context(" · ".join(meta)),
        ]
        if not b.add(*group):
            break
        shown += 1
    if shown < len(items):
        b.tail(context(f"and {len(items) - shown} more articles"))
    if not items:
        b.add(section("Those articles are no longer in the archive."))
    return Message(_fallback("Passages from the digest"), b.blocks)
