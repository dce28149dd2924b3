"""The passages and articles a PostgreSQL worker has read for its search hits, kept until the
change log says their article changed.

A search on a worker ranks by its local index, then reads its hits' passages and their articles
from the database. In SQLite that read is in-process (0.02 ms); from PostgreSQL it was a query
of 0.17 ms in a search of 0.3 ms (``benchmarks/worker_index.py``). A newsroom searches the same
stories all day, so the rows read are kept here.

Nothing kept can go stale unnoticed: a passage's text never changes under its id (an edited
article gets new passages), and every change to an article is a row in the change log, which
every worker reads to update its index (``bot.service.follow_changes``). An article and its
passages are forgotten when the worker re-indexes the article from the log
(``Archive._apply_changes``) or writes it itself; everything is forgotten after a rebuild and when
another process sharing the index folder has moved it on. So what is kept is never older than
what the worker's index shows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from bot.models import Passage, StoredArticle


class HitCache:
    """Passages and live articles by id, the least recently used dropped first; thread-safe."""

    def __init__(self, max_passages: int = 50_000, max_articles: int = 20_000) -> None:
        self.max_passages, self.max_articles = max_passages, max_articles
        self._passages: OrderedDict[int, Passage] = OrderedDict()
        self._articles: OrderedDict[int, StoredArticle] = OrderedDict()
        self._by_article: dict[int, set[int]] = {}  # article id -> ids of its passages kept
        self._lock = threading.Lock()
        # Bumped by every forget: rows read before a forget may be the old version, so a reader
        # hands back the generation it started at and its rows are not kept if it moved.
        self.generation = 0

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        with self._lock:
            return _take(self._passages, ids)

    def articles(self, ids: Iterable[int]) -> dict[int, StoredArticle]:
        with self._lock:
            return _take(self._articles, ids)

    def keep(
        self, passages: Iterable[Passage], articles: Iterable[StoredArticle], generation: int
    ) -> None:
        """Keep rows read at ``generation``, unless something was forgotten since."""
        with self._lock:
            if generation != self.generation:
                return
            for passage in passages:
                self._passages[passage.id] = passage
                self._passages.move_to_end(passage.id)
                self._by_article.setdefault(passage.article_id, set()).add(passage.id)
            while len(self._passages) > self.max_passages:
                _, dropped = self._passages.popitem(last=False)
                kept = self._by_article.get(dropped.article_id)
                if kept is not None:
                    kept.discard(dropped.id)
                    if not kept:
                        del self._by_article[dropped.article_id]
            for article in articles:
                self._articles[article.id] = article
                self._articles.move_to_end(article.id)
            while len(self._articles) > self.max_articles:
                self._articles.popitem(last=False)

    def forget(self, article_ids: Iterable[int]) -> None:
        """Drop these articles and their passages (they changed or went away)."""
        gone = set(article_ids)
        if not gone:
            return  # the follower's empty rounds (every second) must not stop anything being kept
        with self._lock:
            self.generation += 1
            for article_id in gone:
                self._articles.pop(article_id, None)
                for passage_id in self._by_article.pop(article_id, ()):
                    self._passages.pop(passage_id, None)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._passages.clear()
            self._articles.clear()
            self._by_article.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._passages) + len(self._articles)


def _take(items: OrderedDict, ids: Iterable[int]) -> dict:
    found = {}
    for key in ids:
        value = items.get(key)
        if value is not None:
            items.move_to_end(key)
            found[key] = value
    return found
