"""A PostgreSQL worker keeps the rows of its search hits (bot.store.hit_cache): never older than
what its index shows, because the change log it follows makes it forget them."""

from __future__ import annotations

from pathlib import Path

from blockkit import article as stored
from conftest import article

from bot.archive import Archive
from bot.models import Passage
from bot.settings import Settings
from bot.store import open_store
from bot.store.hit_cache import HitCache


def test_rows_read_before_a_forget_are_not_kept() -> None:
    cache = HitCache()
    generation = cache.generation  # a reader starts
    cache.forget([1])  # the follower learns that article 1 changed meanwhile
    cache.keep([Passage(10, 1, 0, "old text")], [stored(1, title="old")], generation)
    assert cache.passages([10]) == {} and cache.articles([1]) == {}
    cache.keep([Passage(10, 1, 0, "old text")], [stored(1, title="old")], cache.generation)
    assert list(cache.passages([10])) == [10] and list(cache.articles([1])) == [1]


def test_forgetting_an_article_drops_its_passages_and_the_bounds_hold() -> None:
    cache = HitCache(max_passages=3, max_articles=2)
    passages = [Passage(i, i % 2, i, f"p{i}") for i in range(5)]
    cache.keep(
        passages, [stored(0, title="even"), stored(1, title="odd"), stored(2, title="two")], 0
    )
    assert len(cache.passages(range(5))) == 3 and list(cache.articles([0, 1, 2])) == [1, 2]
    cache.forget([0])
    assert list(cache.passages(range(5))) == [3]  # 2 and 4 were article 0's
    cache.clear()
    assert len(cache) == 0


def _worker(pg_url: str, folder: Path, index: Path) -> Archive:
    return Archive.open(Settings(articles_dir=folder, index_dir=index).with_database(pg_url))


def _top(archive: Archive, query: str) -> tuple[str, str] | None:
    hits = archive.search(query, limit=1).hits
    return (hits[0].article.title, hits[0].text) if hits else None


def test_a_worker_sees_another_hosts_edit_once_it_follows_the_log(
    pg_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    story = folder / "heron.txt"
    story.write_text("Old headline\n\nThe heron came back to the harbour.\n")
    (folder / "other.txt").write_text("Other\n\nA folder with one file left is not unmounted.\n")
    ingester = _worker(pg_url, folder, tmp_path / "ingester-index")
    worker = _worker(pg_url, folder, tmp_path / "worker-index")  # another host
    try:
        ingester.ingest()
        worker.catch_up()
        assert _top(worker, "heron") == ("Old headline", "The heron came back to the harbour.")
        story.write_text("New headline\n\nThe heron came back to the harbour at dawn.\n")
        ingester.ingest()
        # until the worker follows the log its index shows the old article, and so does
        # what it kept: the two agree
        assert _top(worker, "heron") == ("Old headline", "The heron came back to the harbour.")
        assert worker.catch_up() == 1
        assert _top(worker, "heron") == (
            "New headline",
            "The heron came back to the harbour at dawn.",
        )
        story.unlink()
        ingester.ingest()
        worker.catch_up()
        assert _top(worker, "heron") is None
    finally:
        worker.close()
        ingester.close()


def test_a_process_sharing_the_index_folder_sees_the_others_edit(
    pg_url: str, tmp_path: Path
) -> None:
    """``newsbot search`` on the command line ingests into the index folder ``serve`` uses: the
    server finds its cursor moved with nothing left to apply, and forgets what it kept."""
    folder = tmp_path / "news"
    folder.mkdir()
    story = folder / "heron.txt"
    story.write_text("Old headline\n\nThe heron came back to the harbour.\n")
    server = _worker(pg_url, folder, tmp_path / "index")
    try:
        server.ingest()
        assert _top(server, "heron") == ("Old headline", "The heron came back to the harbour.")
        story.write_text("New headline\n\nThe heron came back to the harbour.\n")
        cli = _worker(pg_url, folder, tmp_path / "index")
        try:
            cli.ingest()  # applied to the shared index, cursor moved on
        finally:
            cli.close()
        assert server.catch_up() == 0
        assert _top(server, "heron") == ("New headline", "The heron came back to the harbour.")
    finally:
        server.close()


def test_a_rebuild_forgets_what_was_kept(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "heron.txt").write_text("Old headline\n\nThe heron came back.\n")
    worker = _worker(pg_url, folder, tmp_path / "index")
    try:
        worker.ingest()
        assert _top(worker, "heron") == ("Old headline", "The heron came back.")
        assert len(worker.store.hits_read) > 0
        worker.rebuild_index()
        assert len(worker.store.hits_read) == 0
    finally:
        worker.close()


def test_a_workers_own_write_is_seen_at_once(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        with store.transaction():
            aid, *_ = store.upsert_article("/r/y", article("before", "text."), 1, 1, "a")
        [p] = store.passages_of(aid)
        assert store.passages_by_id([p.id])[p.id][1].title == "before"
        with store.transaction():
            store.upsert_article("/r/y", article("after", "text."), 2, 2, "b")
        [q] = store.passages_of(aid)
        assert store.passages_by_id([p.id]) == {}
        assert store.passages_by_id([q.id])[q.id][1].title == "after"
    finally:
        store.close()
