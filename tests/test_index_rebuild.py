"""A full index rebuild while an ingest transaction is still in flight misses nothing.

The rebuild reads the store as of one moment and its cursor starts at the log's head. On
PostgreSQL a transaction still open then may hold a change number below that head (numbers are
handed out at insert; a later transaction committed first): the rebuild did not see its rows, and
reading only the numbers above the head would never see them either. Both back-ends, with a real
second connection holding the transaction open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import add_article, titles

from bot.archive import Archive
from bot.changes import GAP_TIMEOUT, Cursor
from bot.models import Article
from bot.settings import Settings
from bot.store import Store, open_store


@contextmanager
def open_transaction(store: Store) -> Iterator[Any]:
    """``store.transaction()`` entered by hand, so the test decides when it commits; rolled back
    if the test fails before that."""
    tx: AbstractContextManager[Any] = store.transaction()
    tx.__enter__()
    done = False

    def commit() -> None:
        nonlocal done
        done = True
        tx.__exit__(None, None, None)

    try:
        yield commit
    except BaseException as exc:
        if not done:
            tx.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if not done:
        tx.__exit__(None, None, None)


def insert(store: Store, title: str) -> None:
    path = f"/a/{title}.txt"
    store.upsert_article(path, Article(path, title, (f"The {title} body.",)), 1, 1, title)


def worker_settings(tmp_path: Path, database: str | Path) -> Settings:
    folder = tmp_path / "articles"
    folder.mkdir(exist_ok=True)
    return Settings(
        db_path=tmp_path / "db" / "news.db", articles_dir=folder, index_dir=tmp_path / "worker"
    ).with_database(database)


@pytest.mark.parametrize("slow_first", [True, False], ids=["slow-began-first", "quick-began-first"])
def test_postgres_a_lower_number_in_flight_at_a_rebuild_is_applied_once_it_commits(
    tmp_path: Path, pg_url: str, slow_first: bool
) -> None:
    """``slow_first``: the transaction in flight got its transaction id before the one that
    committed above it (it is in the snapshot's list of transactions in progress); else after
    (it is not: it is above the latest one completed, the snapshot's xmax)."""
    slow, quick = open_store(pg_url), open_store(pg_url)
    worker: Archive | None = None
    try:
        add_article(quick, "osprey")  # change 1
        with ExitStack() as stack:
            if not slow_first:
                commit_quick = stack.enter_context(open_transaction(quick))
                insert(quick, "kite")  # change 2: quick holds a transaction id first
            commit = stack.enter_context(open_transaction(slow))
            insert(slow, "heron")  # not committed
            heron = 2 if slow_first else 3
            if slow_first:
                add_article(quick, "egret")  # committed above it
            else:
                insert(quick, "egret")
                commit_quick()
            assert quick.change_head() == heron + 1
            assert heron not in [seq for seq, _ in quick.changes_after(0)]
            # A new worker builds its index from the database now: heron's number is in flight
            # below the head.
            worker = Archive.open(worker_settings(tmp_path, pg_url))
            assert worker.index_status()["index_position"] == heron + 1
            assert titles(worker, "egret") == ["egret"] and titles(worker, "heron") == []
            with quick.index_snapshot() as snapshot:
                assert snapshot.head == heron + 1 and snapshot.unsettled == (heron,)
            commit()
        # The worker's next follow cycle (bot.service.follow_changes calls catch_up each second).
        assert worker.catch_up() == 1
        assert titles(worker, "heron") == ["heron"]
        cursor = Cursor.load(worker.cursor_path)
        assert cursor is not None and cursor.gaps == {} and cursor.position == heron + 1
        assert worker.catch_up() == 0  # settled: nothing awaited any more
    finally:
        if worker is not None:
            worker.close()
        slow.close()
        quick.close()


def test_postgres_old_holes_in_the_log_are_settled_recent_ones_awaited(pg_url: str) -> None:
    """A number missing below the head whose next change is two hours old was rolled back long
    ago: a rebuild does not make the cursor wait for it (nor re-read the log back to it). A
    recent one may belong to a transaction in flight; one above the head is a new change."""
    import psycopg

    store, slow = open_store(pg_url), open_store(pg_url)
    try:
        for n, title in enumerate(("a", "b", "c")):
            add_article(store, title)  # changes 1, 3, 5
            if n < 2:
                with pytest.raises(RuntimeError), store.transaction():
                    insert(store, f"rolled-back-{n}")  # 2, then 4: rolled back
                    raise RuntimeError
        assert [seq for seq, _ in store.changes_after(0)] == [1, 3, 5]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE passage_changes SET changed_at = now() - interval '2 hours' WHERE seq <= 3"
            )
        with open_transaction(slow):
            insert(slow, "d")  # change 6, in flight: the snapshot sees a transaction going on
            with store.index_snapshot() as snapshot:
                assert (snapshot.head, snapshot.unsettled) == (5, (4,))
                assert sorted(r[3].split()[0] for r in snapshot.rows) == ["a", "b", "c"]
    finally:
        slow.close()
        store.close()


def test_sqlite_a_transaction_in_flight_at_a_rebuild_is_applied_once_it_commits(
    tmp_path: Path,
) -> None:
    """SQLite serialises writers, so the number in flight is above the rebuild's head (no later
    transaction can commit before it): the cursor reads it as a new change."""
    db = tmp_path / "db" / "news.db"
    slow, quick = open_store(db), open_store(db)
    worker: Archive | None = None
    try:
        add_article(quick, "osprey")  # change 1
        with open_transaction(slow) as commit:
            insert(slow, "heron")  # change 2, not committed; no other writer can commit now
            worker = Archive.open(worker_settings(tmp_path, db))
            assert worker.index_status()["index_position"] == 1
            assert titles(worker, "osprey") == ["osprey"] and titles(worker, "heron") == []
            with quick.index_snapshot() as snapshot:
                assert (snapshot.head, snapshot.unsettled) == (1, ())
            commit()
        assert worker.catch_up() == 1
        assert titles(worker, "heron") == ["heron"]
    finally:
        if worker is not None:
            worker.close()
        slow.close()
        quick.close()


@pytest.mark.parametrize("arrives", [True, False])
def test_a_rebuilds_unsettled_numbers_are_awaited_then_given_up(
    any_store: Store, arrives: bool
) -> None:
    """An unsettled number below the cursor is read until it commits, or until GAP_TIMEOUT: then
    it was rolled back and nobody waits for it any more."""
    for name in ("a", "b", "c"):
        add_article(any_store, name)
    cursor = Cursor()
    cursor.reset(3, unsettled=[2, 5], now=0.0)  # 5 is above the head: not a rebuild's to wait
    assert (cursor.position, cursor.gaps) == (3, {2: 0.0})
    assert Cursor.from_json(cursor.to_json()) == cursor
    if arrives:
        assert [seq for seq, _ in cursor.pending(any_store, now=1.0)] == [2]
        cursor.mark([2], now=1.0)
    else:
        cursor.mark([], now=GAP_TIMEOUT - 1)
        assert cursor.gaps == {2: 0.0}
        cursor.mark([], now=GAP_TIMEOUT)
    assert (cursor.position, cursor.gaps, cursor.pending(any_store)) == (3, {}, [])
