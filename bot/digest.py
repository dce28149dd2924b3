"""The digest's content: what arrived in a window, grouped into stories, each summarised.

No Slack and no delivery here: the scheduler and the ledger decide when and where; the Slack
adapter decides how it looks. This module only decides what it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.models import StoredArticle
from bot.store import Store
from bot.stories import StoryInput, cosine, group_stories, vectors
from bot.summarize import summarize_story

SUMMARY_SENTENCES = 3
MAX_SUMMARY_CHARS = 700  # a longer 3-sentence summary is cut to 2 sentences


@dataclass(frozen=True, slots=True)
class Story:
    headline: str
    summary: tuple[str, ...]
    sources: tuple[StoredArticle, ...]  # the headline's article first


@dataclass(frozen=True, slots=True)
class Digest:
    date: date
    since: datetime
    until: datetime
    stories: tuple[Story, ...]  # the top stories, most covered first
    more: int  # stories beyond ``stories`` (counted, not summarised)
    total_articles: int

    @property
    def empty(self) -> bool:
        return self.total_articles == 0


@dataclass(frozen=True, slots=True)
class _Item:
    article: StoredArticle
    paragraphs: tuple[str, ...]

    @property
    def when(self) -> datetime:
        return self.article.published or self.article.first_seen


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value.isoformat()}")


def _order_story(items: list[_Item]) -> list[_Item]:
    """The most representative article first (its headline leads the story), then by time.

    Representative: closest to the story's common vocabulary; a question headline ("Has ...?")
    only leads when every headline is one.
    """
    if len(items) == 1:
        return items
    vecs = vectors([(i.article.title, " ".join(i.paragraphs)) for i in items])
    fit = [sum(cosine(v, w) for w in vecs) for v in vecs]
    ranked = sorted(
        range(len(items)),
        key=lambda k: (
            items[k].article.title.rstrip().endswith("?"),
            -round(fit[k], 6),
            items[k].when,
            items[k].article.id,
        ),
    )
    lead = items[ranked[0]]
    rest = sorted((items[k] for k in ranked[1:]), key=lambda i: (i.when, i.article.id))
    return [lead, *rest]


def _summary(items: Sequence[_Item], sentences: int) -> tuple[str, ...]:
    articles = [(i.article.title, i.paragraphs) for i in items]
    summary = summarize_story(articles, n=sentences)
    if len(summary) > 2 and sum(len(s) for s in summary) > MAX_SUMMARY_CHARS:
        summary = summarize_story(articles, n=2)
    return tuple(summary)


def build_digest(
    store: Store,
    since: datetime,
    until: datetime,
    digest_date: date,
    max_stories: int = 10,
    sentences: int = SUMMARY_SENTENCES,
) -> Digest:
    """The digest of the articles first seen in ``[since, until)``.

    Stories are ranked by how many articles tell them, then by their latest article; the top
    ``max_stories`` are summarised and the rest only counted in ``more``.
    """
    _require_aware("since", since)
    _require_aware("until", until)
    if max_stories < 0:
        raise ValueError(f"max_stories must be 0 or more, got {max_stories}")
    articles = store.articles(seen_since=since, seen_until=until)
    # Oldest first, so a story's first report is met first when grouping.
    articles.sort(key=lambda a: (a.first_seen, a.id))
    items = [_Item(a, tuple(p.text for p in store.passages_of(a.id))) for a in articles]
    groups = group_stories([StoryInput(i.article.title, " ".join(i.paragraphs), i) for i in items])
    stories = [[member.item for member in group] for group in groups]
    stories.sort(
        key=lambda g: (
            -len(g),
            -max(i.when.timestamp() for i in g),
            min(i.article.id for i in g),
        )
    )
    top = []
    for group in stories[:max_stories]:
        ordered = _order_story(group)
        top.append(
            Story(
                headline=ordered[0].article.title,
                summary=_summary(ordered, sentences),
                sources=tuple(i.article for i in ordered),
            )
        )
    return Digest(
        date=digest_date,
        since=since,
        until=until,
        stories=tuple(top),
        more=max(0, len(stories) - len(top)),
        total_articles=len(articles),
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def digest_to_json(d: Digest, channels: Sequence[str]) -> dict[str, Any]:
    """The digest as ``newsbot digest --dry-run --json`` prints it."""
    return {
        "date": d.date.isoformat(),
        "channels": list(channels),
        "stories": [
            {
                "headline": s.headline,
                "summary": list(s.summary),
                "sources": [
                    {
                        "title": a.title,
                        "path": a.path,
                        "author": a.author,
                        "published": _iso(a.published),
                    }
                    for a in s.sources
                ],
            }
            for s in d.stories
        ],
        "more": d.more,
    }
