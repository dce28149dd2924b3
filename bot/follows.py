"""Follows: saved queries run over each ingest batch's new passages (a percolator).

Elasticsearch's percolate query turns search around: the queries are stored and each new
document is run against them. Here each batch of new articles is indexed in a small throwaway
``PassageIndex`` (a temporary folder) and every follow runs over that index only, never over the
archive: the cost grows with the batch and the number of follows, not with the archive.

Exactly once (at most once, in fact) rests on the alert ledger (``follow_alerts``, keyed by
(follow, article)): a pair is claimed in the database before its DM is sent and never claimed
again, by this process or another, after a restart or a retry. New articles reach here through
``follow_queue``, which the ingest writes in its own transaction; the process that sends alerts
takes (deletes) them, so two processes never run the follows over the same article. An article
is never alerted to a follow created after the article was first seen, and an updated article is
not queued again (only articles first seen are). A process that dies after taking articles
and before claiming their alerts loses that batch's alerts: at most once, never twice.

No Slack here: the adapter turns ``UserAlert`` into a DM.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bot.index import IndexRow, PassageIndex, WordQuery
from bot.models import Follow, StoredArticle
from bot.search import _plan, _spans, _Words
from bot.store import Store

log = logging.getLogger("newsbot.follows")

MAX_FOLLOWS_PER_USER = 50
MAX_FOLLOW_QUERY = 500  # characters, as a search from Slack
TAKE_ARTICLES = 2000  # new articles run against the follows in one go
# Passages one follow may match in one batch: a follow broader than this is not a beat.
MAX_PASSAGES_PER_FOLLOW = 2000

RowSource = Callable[[Sequence[int] | None], Iterable[IndexRow]]


def query_hint(query: str) -> str | None:
    """The one-line hint search gives for a malformed or empty query, or None when it is fine."""
    plan = _plan(query)
    return plan if isinstance(plan, str) else None


def add_follow(store: Store, user_id: str, query: str) -> Follow | str:
    """Save a follow, or say in one line why not (the query's hint, too many follows)."""
    query = " ".join(query.split())[:MAX_FOLLOW_QUERY]
    hint = query_hint(query)
    if hint is not None:
        return hint
    with store.transaction():
        mine = store.follows(user_id)
        if any(f.query == query for f in mine):
            return "You already follow that query: `/news following` lists them."
        if len(mine) >= MAX_FOLLOWS_PER_USER:
            return f"You follow {MAX_FOLLOWS_PER_USER} queries already; unfollow one first."
        return store.add_follow(user_id, query)


class Percolator:
    """A throwaway index of some passages (a batch's new ones) to run saved queries over."""

    def __init__(self, rows: Iterable[IndexRow]) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="newsbot-percolate-")
        self.article_of: dict[int, int] = {}  # passage id -> article id
        self.index = PassageIndex(Path(self._tmp.name))
        writer = self.index.writer()
        try:
            self.index.replace_articles(writer, (), self._remember(rows))
            self.index.commit(writer)  # with the vocabulary: it holds the words' forms
            writer.wait_merging_threads()
        except BaseException:
            self.index.rollback(writer)
            self.close()
            raise
        self.index.refresh()

    def _remember(self, rows: Iterable[IndexRow]) -> Iterator[IndexRow]:
        for row in rows:
            self.article_of[row[0]] = row[1]
            yield row

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Percolator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def match(self, query: str) -> dict[int, int]:
        """article id -> its best matching passage id. Words match as typed, in another word
        form or in the headline (no typo guesses: an alert must be a real match); filters
        (phrases, -word, by:, after:, before:) apply as in search."""
        if not self.article_of:
            return {}
        plan = _plan(query)
        if isinstance(plan, str):
            return {}
        # Most follows name a word no new passage has: two term lookups settle them.
        if plan.words and not all(self.index.knows(w) for w in plan.words):
            return {}
        found = self.index.search(
            [WordQuery(w, 0) for w in plan.words],
            limit=min(len(self.article_of), MAX_PASSAGES_PER_FOLLOW),
            filters=plan.filters,
        )
        best: dict[int, int] = {}
        for passage_id, _ in found:  # best first
            best.setdefault(self.article_of[passage_id], passage_id)
        return best


def spans_for(query: str, text: str) -> tuple[tuple[int, int], ...]:
    """Where the query's words stand in a matching passage (to set them in bold)."""
    plan = _plan(query)
    if isinstance(plan, str):
        return ()
    return _spans(text, plan.ranked, {}, _Words(text))


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """One new article for a user: its best matching passage and the follows it matched."""

    article: StoredArticle
    paragraph: int
    text: str
    queries: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...]  # (follow id, article id) claimed in the ledger

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Where the first follow's words stand in the passage (computed for the matches
        shown only: a DM lists a few)."""
        return spans_for(self.queries[0], self.text)


@dataclass(slots=True)
class UserAlert:
    """What one user is told about one batch: one DM."""

    user_id: str
    matches: list[AlertMatch] = field(default_factory=list)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return [p for m in self.matches for p in m.pairs]


def percolate(
    follows: Sequence[Follow], article_ids: Sequence[int], rows: RowSource
) -> list[tuple[Follow, int, int]]:
    """(follow, article id, passage id) for each follow matching each of the articles."""
    if not follows or not article_ids:
        return []
    out = []
    with Percolator(rows(article_ids)) as percolator:
        for follow in follows:
            for article_id, passage_id in percolator.match(follow.query).items():
                out.append((follow, article_id, passage_id))
    return out


def matching_articles(query: str, article_ids: Sequence[int], rows: RowSource) -> set[int]:
    """The articles among ``article_ids`` with a passage matching ``query``."""
    if not article_ids:
        return set()
    with Percolator(rows(article_ids)) as percolator:
        return set(percolator.match(query))


def take_alerts(store: Store, rows: RowSource, *, limit: int = TAKE_ARTICLES) -> list[UserAlert]:
    """Take the queued new articles, run every follow over them and claim the alerts to send.

    A claimed alert is the caller's to send; one already claimed (anywhere) is left out. Matches
    of articles first seen before the follow was created are left out.
    """
    article_ids = store.take_follow_queue(limit)
    if not article_ids:
        return []
    all_follows = store.follows()
    found = percolate(all_follows, article_ids, rows)
    if not found:
        return []
    articles: dict[int, StoredArticle | None] = {}
    for _, article_id, _ in found:
        if article_id not in articles:
            articles[article_id] = store.article(article_id)
    passages = store.passages_by_id(sorted({pid for _, _, pid in found}))
    by_user: dict[str, dict[int, AlertMatch]] = {}
    with store.transaction():
        for follow, article_id, passage_id in found:
            article = articles.get(article_id)
            if article is None or passage_id not in passages:
                continue
            if article.first_seen < follow.created_at:
                continue  # the article was in the archive before the follow existed
            if not store.claim_alert(follow.id, article_id, follow.user_id):
                continue  # alerted before (another process, an earlier run)
            mine = by_user.setdefault(follow.user_id, {})
            passage = passages[passage_id][0]
            known = mine.get(article_id)
            if known is None:
                mine[article_id] = AlertMatch(
                    article,
                    passage.position,
                    passage.text,
                    (follow.query,),
                    ((follow.id, article_id),),
                )
            else:
                mine[article_id] = AlertMatch(
                    known.article,
                    known.paragraph,
                    known.text,
                    (*known.queries, follow.query),
                    (*known.pairs, (follow.id, article_id)),
                )
    alerts = []
    for user_id, matches in by_user.items():
        ordered = sorted(
            matches.values(),
            key=lambda m: (m.article.published or m.article.first_seen, m.article.id),
            reverse=True,
        )
        alerts.append(UserAlert(user_id, ordered))
    return alerts
