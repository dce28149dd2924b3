"""The daily digest: its message, the rest of its stories as thread replies ("See all"), the note
that marks a private preview, and a story's passages ("See passages")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.models import StoredArticle
from bot.slack.mrkdwn import (
    channel_mention,
    cut_mrkdwn,
    escape,
    link,
    safe_url,
    truncate,
    truncate_escaped,
)
from bot.slack.views.article import article_meta, format_date, headline, passage_text
from bot.slack.views.blocks import (
    BUTTON_TEXT,
    HEADER_TEXT,
    SECTION_TEXT,
    Block,
    Builder,
    Message,
    button,
    context,
    divider,
    fallback,
    section,
)
from bot.slack.views.buttons import ACTION_DIGEST_ALL, ACTION_DIGEST_PASSAGES, digest_all_value
from bot.slack.views.follows import quoted

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
    b = Builder(reserve_blocks=2, reserve_chars=600)
    b.add({"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_TEXT]}})
    if note:
        b.add(context(note))
    if not stories:
        b.add(section("Nothing new arrived in the archive since the last digest."))
        return fallback(f"{title}: nothing new."), b.blocks
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
    return fallback(f"{title}: {headlines}"), b.blocks


def digest_rest(stories: Sequence[Any], start: int) -> list[Message]:
    """Stories ``start`` and on, numbered from ``start + 1``, as thread replies within limits."""
    messages: list[Message] = []
    b = Builder(reserve_blocks=0, reserve_chars=200)
    first = start
    for n, story in enumerate(stories[start:], start):
        group = [section(f"*{n + 1}.*"), *_story_group(n, story)]
        if not b.add(*group):
            if b.blocks:
                messages.append(_rest_message(b.blocks, first, n))
            b = Builder(reserve_blocks=0, reserve_chars=200)
            first = n
            if not b.add(*group):  # one story alone too big: never, but never loop either
                continue
    if b.blocks:
        messages.append(_rest_message(b.blocks, first, len(stories)))
    return messages


def _rest_message(blocks: list[Block], first: int, end: int) -> Message:
    return Message(fallback(f"Digest stories {first + 1}–{end}"), blocks)


def preview_note(channels: Sequence[str], since: datetime, query: str | None = None) -> str:
    """The line that marks a digest as a private preview: where it goes, what it covers (a
    desk's ``query``, when it has one)."""
    where = ", ".join(channel_mention(c) for c in channels) or "no channel (DIGEST_CHANNEL unset)"
    only = f", only the stories matching {quoted(query)}" if query else ""
    return (
        f":eyes: Preview, only you see this: the next digest for {where} as it stands now{only},"
        f" covering articles since {format_date(since)} {since:%H:%M %Z}."
    )


def article_passages(items: Sequence[tuple[StoredArticle, Sequence[str], int]]) -> Message:
    """Articles with their opening passages: (article, passages shown, total passages)."""
    b = Builder(reserve_blocks=1, reserve_chars=200)
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
    return Message(fallback("Passages from the digest"), b.blocks)
