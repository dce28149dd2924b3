"""A PostgreSQL worker keeps the rows of its search hits (bot.store.hit_cache): never older than
what its index shows, because the change log it follows makes it forget them."""

from __future__ import annotations

from bot.models import Article, Passage, StoredArticle
from bot.store import open_store
from bot.store.hit_cache import HitCache


def article(title: str, *paragraphs: str) -> Article:
    return Article(f"/a/{title}.txt", title, paragraphs or (f"{title} body.",), dek="dek")


def stored(article_id: int, title: str) -> StoredArticle:
    from datetime import UTC, datetime

    return StoredArticle(
        id=article_id,
        path=f"/a/{title}.txt",
        title=title,
        dek=None,
        author=None,
        editor=None,
        source=None,
        url=None,
        published=None,
        first_seen=datetime.now(UTC),
        captions=(),
    )


def test_rows_read_before_a_forget_are_not_kept() -> None:
    cache = HitCache()
    generation = cache.generation  # a reader starts
    cache.forget([1])  # the follower learns that article 1 changed meanwhile
    cache.keep([Passage(10, 1, 0, "old text")], [stored(1, "old")], generation)
    assert cache.passages([10]) == {} and cache.articles([1]) == {}
    cache.keep([Passage(10, 1, 0, "old text")], [stored(1, "old")], cache.generation)
    assert list(cache.passages([10])) == [10] and list(cache.articles([1])) == [1]


def test_forgetting_an_article_drops_its_passages_and_the_bounds_hold() -> None:
    cache = HitCache(max_passages=3, max_articles=2)
    passages = [Passage(i, i % 2, i, f"p{i}") for i in range(5)]
    cache.keep(passages, [stored(0, "even"), stored(1, "odd"), stored(2, "two")], 0)
    assert len(cache.passages(range(5))) == 3 and list(cache.articles([0, 1, 2])) == [1, 2]
    cache.forget([0])
    assert list(cache.passages(range(5))) == [3]  # 2 and 4 were article 0's
    cache.clear()
    assert len(cache) == 0


def test_a_worker_sees_another_hosts_edit_once_it_reads_the_change_log(pg_url: str) -> None:
    worker, ingester = open_store(pg_url), open_store(pg_url)  # two hosts, one database
    try:
        with ingester.transaction():
            aid, _ = ingester.upsert_article("/r/x", article("first", "old text."), 1, 1, "a")
        [old] = ingester.passages_of(aid)
        seen = worker.changes_after(0)  # the worker's index has caught up
        hit = worker.passages_by_id([old.id])
        assert hit[old.id][0].text == "old text." and hit[old.id][1].title == "first"
        with ingester.transaction():  # another host edits the article: new passages, new title
            ingester.upsert_article("/r/x", article("second", "new text."), 2, 2, "b")
        [new] = ingester.passages_of(aid)
        # until the worker reads the log its index still holds the old passage, and so does
        # what it kept: the two agree
        assert worker.passages_by_id([old.id])[old.id][1].title == "first"
        assert worker.changes_after(seen[-1][0])  # the follower's next round
        assert worker.passages_by_id([old.id]) == {}
        hit = worker.passages_by_id([new.id])
        assert hit[new.id][0].text == "new text." and hit[new.id][1].title == "second"
        with ingester.transaction():
            ingester.mark_removed("/r/x")
        worker.changes_after(0)
        assert worker.passages_by_id([new.id]) == {}
    finally:
        worker.close()
        ingester.close()


def test_a_workers_own_write_is_seen_at_once(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        with store.transaction():
            aid, _ = store.upsert_article("/r/y", article("before", "text."), 1, 1, "a")
        [p] = store.passages_of(aid)
        assert store.passages_by_id([p.id])[p.id][1].title == "before"
        with store.transaction():
            store.upsert_article("/r/y", article("after", "text."), 2, 2, "b")
        [q] = store.passages_of(aid)
        assert store.passages_by_id([p.id]) == {}
        assert store.passages_by_id([q.id])[q.id][1].title == "after"
    finally:
        store.close()
