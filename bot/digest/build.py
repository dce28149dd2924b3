"""The digest's content: what arrived in a window, grouped into stories, each summarised.

No Slack and no delivery here: the scheduler and the ledger decide when and where; the Slack
adapter decides how it looks. This module only decides what it says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from bot.digest.figures import Disagreement, Report, figures, numbers, story_facts
from bot.digest.stories import (
    StoryInput,
    cosine,
    group_with_followers,
    same_thing,
    vectors,
)
from bot.digest.summarize import split_sentences, summarize_story
from bot.models import StoredArticle
from bot.store import Store

DIGEST_STORIES = 10  # stories in a posted digest (its See all button shows the rest)
SUMMARY_SENTENCES = 3
MAX_SUMMARY_CHARS = 700  # a longer 3-sentence summary is cut to 2 sentences
# A headline that labels a view rather than a report: it never leads a story that has a report.
_COMMENT = re.compile(
    r"^\W*(?:opinion|analysis|comment|commentary|editorial|column|viewpoint|view|letters?)\s*[:|–—-]",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Story:
    headline: str
    summary: tuple[str, ...]
    sources: tuple[StoredArticle, ...]  # the headline's article first
    disagreements: tuple[Disagreement, ...] = ()


@dataclass(frozen=True, slots=True)
class Digest:
    date: date
    since: datetime
    until: datetime
    stories: tuple[Story, ...]  # the top stories, biggest news first
    more: int  # stories beyond ``stories`` (counted, not summarised)
    total_articles: int

    @property
    def empty(self) -> bool:
        return self.total_articles == 0

    @property
    def total_stories(self) -> int:
        return len(self.stories) + self.more


@dataclass(frozen=True, slots=True)
class _Item:
    article: StoredArticle
    paragraphs: tuple[str, ...]

    @property
    def when(self) -> datetime:
        return self.article.published or self.article.first_seen

    @property
    def outlet(self) -> str:
        a = self.article
        return a.source or a.editor or a.author or a.path


Grouping = Callable[[Sequence[StoryInput[_Item]]], list[list[StoryInput[_Item]]]]


def is_comment(headline: str) -> bool:
    """True for an "Opinion:", "Analysis:" or "Comment:" headline (a view, not a report)."""
    return bool(_COMMENT.match(headline))


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value.isoformat()}")


def _order_story(items: list[_Item], stale: frozenset[int] = frozenset()) -> list[_Item]:
    """The most representative straight news report first (its headline leads), then by time.

    Representative: closest to the story's common vocabulary. An "Opinion:"/"Analysis:" piece,
    a question headline ("Has ...?") or a headline with a superseded figure ("at least seven
    dead" when later reports say 12) only leads when the story has nothing else.
    """
    if len(items) == 1:
        return items
    vecs = vectors([(i.article.title, " ".join(i.paragraphs)) for i in items])
    fit = [sum(cosine(v, w) for w in vecs) for v in vecs]
    ranked = sorted(
        range(len(items)),
        key=lambda k: (
            is_comment(items[k].article.title),
            items[k].article.title.rstrip().endswith("?"),
            any(f.value in stale for f in figures(items[k].article.title)),
            -round(fit[k], 6),
            items[k].when,
            items[k].article.id,
        ),
    )
    lead = items[ranked[0]]
    rest = sorted((items[k] for k in ranked[1:]), key=lambda i: (i.when, i.article.id))
    return [lead, *rest]


def _sentences(item: _Item) -> tuple[str, ...]:
    return (item.article.title, *(s for p in item.paragraphs for s in split_sentences(p)))


def facts(sentence: str) -> frozenset[str]:
    """What a sentence states that another must not state again: its figures (numbers, money,
    scores) and what they count ("12 dead" and "Fourteen people died" are one fact, told
    twice; the disagreement line gives both)."""
    kinds = {f"{f.role}|{f.noun}|{f.year}" for f in figures(sentence)}
    return numbers(sentence) | kinds


def _summary(items: Sequence[_Item], sentences: int, stale: frozenset[int]) -> tuple[str, ...]:
    """Sentences from the story's news reports (views only when there is nothing else), never
    one with a superseded figure, never two sharing a figure."""
    news = [i for i in items if not is_comment(i.article.title)] or list(items)
    articles = [(i.article.title, i.paragraphs) for i in news]

    def outdated(sentence: str) -> bool:
        return any(f.value in stale for f in figures(sentence))

    def run(n: int) -> list[str]:
        return summarize_story(articles, n=n, facts=facts, stale=outdated, same=same_thing)

    summary = run(sentences)
    if len(summary) > 2 and sum(len(s) for s in summary) > MAX_SUMMARY_CHARS:
        summary = run(2)
    return tuple(summary)


def _story(group: list[_Item], sentences: int) -> Story:
    reports = [Report(i.article.path, i.outlet, i.when, _sentences(i)) for i in group]
    facts = story_facts(reports)
    ordered = _order_story(group, facts.stale)
    return Story(
        headline=ordered[0].article.title,
        summary=_summary(ordered, sentences, facts.stale),
        sources=tuple(i.article for i in ordered),
        disagreements=facts.disagreements,
    )


def news_value(group: Sequence[_Item], followers: int = 0) -> tuple[float, ...]:
    """Sort key, biggest news first: reports plus distinct outlets; between equals, the story
    with more followers (single reports left on their own whose closest story this is, such
    as a minister's reaction: ``bot.digest.stories.followers``); then the latest report. A
    story is never ranked below one with fewer reports and outlets."""
    outlets = len({i.outlet for i in group})
    return (
        -(len(group) + outlets),
        -followers,
        -max(i.when.timestamp() for i in group),
        min(i.article.id for i in group),
    )


def build_digest(
    store: Store,
    since: datetime,
    until: datetime,
    digest_date: date,
    max_stories: int | None = DIGEST_STORIES,
    sentences: int = SUMMARY_SENTENCES,
    *,
    grouping: Grouping | None = None,
    only: Collection[int] | None = None,
) -> Digest:
    """The digest of the articles first seen in ``[since, until)``.

    Stories are ranked by news value (``news_value``); the top ``max_stories`` (all of them when
    None) are summarised and the rest only counted in ``more``. ``only`` (article ids) keeps the
    stories with at least one of those articles (a desk's query; see ``bot.digest.desks``).
    ``grouping`` replaces the shipped grouping (``bot.digest.stories.group_with_followers``),
    e.g. a benchmark's baseline; its stories rank without followers.
    """
    _require_aware("since", since)
    _require_aware("until", until)
    if max_stories is not None and max_stories < 0:
        raise ValueError(f"max_stories must be 0 or more, got {max_stories}")
    articles = store.articles(seen_since=since, seen_until=until)
    # Oldest first, so a story's first report is met first when grouping.
    articles.sort(key=lambda a: (a.first_seen, a.id))
    items = [_Item(a, tuple(p.text for p in store.passages_of(a.id))) for a in articles]
    inputs = [
        StoryInput(
            i.article.title,
            " ".join(i.paragraphs),
            i,
            lead=i.paragraphs[0] if i.paragraphs else "",
            when=i.article.published,  # unknown dates are not compared
        )
        for i in items
    ]
    if grouping is None:
        groups, follow = group_with_followers(inputs)
    else:  # a caller's own grouping (a benchmark's baseline) ranks without followers
        groups = grouping(inputs)
        follow = [0] * len(groups)
    ranked = sorted(
        zip(([m.item for m in g] for g in groups), follow, strict=True),
        key=lambda pair: news_value(*pair),
    )
    stories = [group for group, _ in ranked]
    if only is not None:
        stories = [g for g in stories if any(i.article.id in only for i in g)]
    limit = len(stories) if max_stories is None else max_stories
    top = [_story(group, sentences) for group in stories[:limit]]
    return Digest(
        date=digest_date,
        since=since,
        until=until,
        stories=tuple(top),
        more=max(0, len(stories) - len(top)),
        total_articles=len(articles) if only is None else sum(len(g) for g in stories),
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
                "disagreements": [
                    {
                        "what": d.what,
                        "values": [
                            {"value": c.value, "path": c.path, "source": c.source} for c in d.values
                        ],
                    }
                    for d in s.disagreements
                ],
            }
            for s in d.stories
        ],
        "more": d.more,
    }
