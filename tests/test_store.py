"""The store interface, run against both back-ends (a SQLite file and the real PostgreSQL server):
articles and passages, first-seen times, the change log, event dedupe, migrations, copying."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import add_article, all_at_once, article

from bot.changes import GAP_TIMEOUT, Cursor
from bot.settings import Settings, SettingsError
from bot.store import SCHEMA_VERSION, Store, StoreError, open_store
from bot.store.base import COPIED_TABLES


def test_upsert_keeps_first_seen_and_logs_every_change(any_store: Store) -> None:
    s = any_store
    assert s.schema_version() == SCHEMA_VERSION
    assert s.change_head() == 0 and s.is_empty()
    with s.transaction():
        aid, new, _ = s.upsert_article("/r/one", article("one", "a.", "b."), 10, 1, "sha")
    assert new and s.counts() == (1, 2)
    first_seen = s.article(aid).first_seen
    assert first_seen.tzinfo is not None
    time.sleep(0.01)
    with s.transaction():
        again, new, _ = s.upsert_article("/r/one", article("one", "c."), 11, 2, "sha2")
    assert (again, new) == (aid, False)
    assert s.article(aid).first_seen == first_seen  # never changed once set
    assert [p.text for p in s.passages_of(aid)] == ["c."]
    with s.transaction():
        assert s.mark_removed("/r/one") == aid
        assert s.mark_removed("/r/one") is None
    assert s.counts() == (0, 0)
    assert s.file_states()["/r/one"][3] is True  # the row stays, marked removed
    assert s.file_states(["/r/one", "/r/never"]) == {"/r/one": (11, 2, "sha2", True)}
    assert s.file_states([]) == {}
    assert [a for _, a in s.changes_after(0)] == [aid, aid, aid]
    head = s.change_head()
    assert s.changes_after(head) == [] and s.changes_between(head - 2, head)[-1][0] == head


def test_reads_by_window_and_by_passage_id(any_store: Store) -> None:
    s = any_store
    add_article(s, "alpha")
    mid = datetime.now(UTC)
    time.sleep(0.01)
    add_article(s, "beta")
    assert [a.title for a in s.articles()] == ["beta", "alpha"]
    assert [a.title for a in s.articles(seen_until=mid)] == ["alpha"]
    assert [a.title for a in s.articles(seen_since=mid)] == ["beta"]
    beta = s.articles()[0]
    [passage] = s.passages_of(beta.id)
    found = s.passages_by_id([passage.id, 999_999])
    assert list(found) == [passage.id] and found[passage.id][1].title == "beta"
    rows = list(s.index_rows())
    assert [r[3].strip() for r in rows] == ["alpha", "beta"]
    assert next(iter(s.index_rows([beta.id])))[2] == "beta body."


def test_passage_counts_in_one_query_match_the_passages(any_store: Store) -> None:
    """The count under each search hit ("paragraph 3 of 9") without loading the passages."""
    s = any_store
    with s.transaction():
        three, *_ = s.upsert_article("/r/three", article("three", "a.", "b.", "c."), 1, 1, "x")
        one, *_ = s.upsert_article("/r/one", article("one", "a."), 1, 1, "y")
        gone, *_ = s.upsert_article("/r/gone", article("gone", "a.", "b."), 1, 1, "z")
        s.mark_removed("/r/gone")
    ids = [three, one, gone, 999_999, three]
    expected = {i: len(s.passages_of(i)) for i in ids}
    assert s.passage_counts(ids) == expected == {three: 3, one: 1, gone: 0, 999_999: 0}
    assert s.passage_counts([]) == {}
    many = list(range(1, 1200))  # more ids than one IN (...) takes here
    counts = s.passage_counts(many)
    assert len(counts) == len(many) and counts[three] == 3 and counts[one] == 1


def test_rollback_leaves_nothing(any_store: Store) -> None:
    with pytest.raises(RuntimeError), any_store.transaction():
        any_store.upsert_article("/r/x", article("x"), 1, 1, "s")
        raise RuntimeError("crash")
    assert any_store.counts() == (0, 0) and any_store.file_states() == {}


def test_event_dedupe_answers_once_and_forgets_after_the_ttl(any_store: Store) -> None:
    s = any_store
    assert s.seen_before(["event:Ev1", "msg:m1"], ttl=600) is False
    assert s.seen_before(["event:Ev1"], ttl=600) is True
    assert s.seen_before(["event:Ev2", "msg:m1"], ttl=600) is True  # same message, new id
    assert s.seen_before(["event:Ev3"], ttl=0.05) is False
    time.sleep(0.1)
    assert s.seen_before(["event:Ev3"], ttl=0.05) is False  # expired: a new delivery


def test_a_delivery_that_finds_a_key_seen_records_no_more_keys(any_store: Store) -> None:
    """A delivery (event id, message id) racing its retry on another worker: the retry found
    the event id first; had it gone on to record the message id, the first delivery would find
    that and neither would answer."""
    s = any_store
    assert s.seen_before(["event:Ev5"], ttl=600) is False  # the first delivery's first key
    assert s.seen_before(["event:Ev5", "msg:m5"], ttl=600) is True  # the retry
    assert s.seen_before(["msg:m5"], ttl=600) is False  # the first delivery's second key


@pytest.mark.parametrize("keys", [["event:race"], ["event:race", "msg:race"]])
def test_event_dedupe_races_have_one_winner(
    any_store: Store, tmp_path: Path, keys: list[str]
) -> None:
    target = getattr(any_store, "url", None) or tmp_path / "news.db"
    stores = [open_store(target) for _ in range(6)]
    for round_ in range(5):
        wanted = [f"{k}{round_}" for k in keys]
        results = all_at_once(lambda s, w=wanted: s.seen_before(w, ttl=600), stores)
        assert sorted(results) == [False, True, True, True, True, True], (round_, results)
    for s in stores:
        s.close()


def test_copy_between_stores_keeps_ids_times_and_the_ledger(
    any_store: Store, tmp_path: Path
) -> None:
    from bot.digest.ledger import Ledger

    src = any_store
    add_article(src, "one")
    add_article(src, "two")
    ledger = Ledger(src)
    claim = ledger.claim("C1", datetime(2024, 3, 11).date())
    ledger.begin_post(claim, datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC))
    ledger.mark_sent(claim, "1.0")
    dst = open_store(tmp_path / "copy.db")
    for table in COPIED_TABLES:
        columns, rows = src.export_rows(table)
        dst.import_rows(table, columns, rows)
    dst.after_import()
    assert [(a.id, a.title, a.first_seen) for a in dst.articles()] == [
        (a.id, a.title, a.first_seen) for a in src.articles()
    ]
    assert dst.ledger_rows() == src.ledger_rows()
    add_article(dst, "three")  # ids continue past the copied ones
    assert len({a.id for a in dst.articles()}) == 3
    dst.close()


def test_sqlite_version_1_file_is_migrated_and_its_pending_rows_become_changes(
    tmp_path: Path,
) -> None:
    from bot.store.sqlite import MIGRATIONS

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for statement in MIGRATIONS[0][1]:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO articles(id, realpath, path, size, mtime_ns, sha1, title, first_seen,"
        " updated_at) VALUES (7, '/r', '/r', 1, 1, 's', 't', '2024-01-01T00:00:00+00:00',"
        " '2024-01-01T00:00:00+00:00')"
    )
    conn.execute("INSERT INTO index_pending VALUES (7)")
    conn.commit()
    conn.close()
    s = open_store(db)
    assert s.schema_version() == SCHEMA_VERSION
    assert [a for _, a in s.changes_after(0)] == [7]
    s.close()


def test_a_newer_schema_is_refused_with_one_line(any_store: Store, tmp_path: Path) -> None:
    any_store.set_meta("schema_version", "99")
    target = getattr(any_store, "url", None) or tmp_path / "news.db"
    with pytest.raises(StoreError, match="newer than this newsbot knows"):
        open_store(target)


def test_concurrent_openers_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_store(pg_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    s = open_store(pg_url)
    assert s.schema_version() == SCHEMA_VERSION
    s.close()


def test_unreachable_postgres_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://newsbot:s3cret-pw@127.0.0.1:1/news")
    message = str(info.value)
    assert "s3cret-pw" not in message and "\n" not in message
    assert message.startswith("cannot connect to PostgreSQL at postgresql://newsbot@127.0.0.1:1/")


def test_cursor_waits_for_a_gap_then_gives_it_up() -> None:
    c = Cursor()
    c.mark([1, 2, 4], now=0.0)
    assert (c.position, c.high, set(c.gaps)) == (2, 4, {3})
    c.mark([3], now=1.0)  # the late commit arrived
    assert (c.position, c.gaps) == (4, {})
    c.mark([6], now=2.0)
    c.mark([], now=2.0 + GAP_TIMEOUT)  # 5 never came: a rolled-back transaction
    assert c.position == 6 and Cursor.from_json(c.to_json()) == c


def test_an_idle_cursor_gives_up_its_expired_gaps(any_store: Store) -> None:
    """A rebuild's unsettled number that never commits is dropped on the next look, though no
    change arrives to be marked."""
    c = Cursor()
    c.reset(5, unsettled=[3], now=0.0)
    assert c.pending(any_store, now=1.0) == [] and set(c.gaps) == {3}
    assert c.pending(any_store, now=1.0 + GAP_TIMEOUT) == [] and c.gaps == {}


def test_cursor_rereads_gaps_from_the_store(any_store: Store) -> None:
    s = any_store
    for name in ("a", "b", "c"):
        add_article(s, name)
    c = Cursor()
    c.mark([1, 3], now=time.time())
    assert [seq for seq, _ in c.pending(s)] == [2]
    c.mark([2])
    assert c.pending(s) == [] and c.position == 3
    assert c.gaps == {}


def test_pruning_keeps_recent_changes_and_the_head_and_records_the_horizon(
    any_store: Store,
) -> None:
    s = any_store
    assert s.prune_changes(datetime.now(UTC) + timedelta(days=1)) == 0  # an empty log
    for name in ("a", "b"):
        add_article(s, name)
    time.sleep(0.05)
    cutoff = datetime.now(UTC)
    time.sleep(0.05)
    for name in ("c", "d"):
        add_article(s, name)
    head = s.change_head()
    assert s.changes_pruned_through() == 0
    assert s.prune_changes(cutoff) == 2  # a's and b's changes are older than the cutoff
    assert s.changes_pruned_through() == 2 and s.change_head() == head
    assert [seq for seq, _ in s.changes_after(0)] == [3, 4]
    assert s.prune_changes(cutoff) == 0 and s.changes_pruned_through() == 2
    # Everything is old now, but the newest change stays: the head is never lost.
    assert s.prune_changes(datetime.now(UTC) + timedelta(days=1)) == 1
    assert s.changes_pruned_through() == 3 and s.change_head() == head == 4
    assert [seq for seq, _ in s.changes_after(0)] == [4]
    add_article(s, "e")
    assert [seq for seq, _ in s.changes_after(3)] == [4, 5]  # numbers are never reused


def test_a_cursor_below_the_pruned_horizon_is_behind(any_store: Store) -> None:
    s = any_store
    for name in ("a", "b", "c"):
        add_article(s, name)
    s.prune_changes(datetime.now(UTC) + timedelta(days=1))  # through 2
    assert Cursor(position=1).behind(s) and not Cursor(position=2).behind(s)
    fresh = Cursor(position=1, applied={3}, gaps={2: 0.0})
    fresh.reset(3)
    assert (fresh.position, fresh.applied, fresh.gaps) == (3, set(), {})


def test_database_selection_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--db > DATABASE_URL > NEWSBOT_DB; a URL selects PostgreSQL, a path SQLite."""
    from bot.cli.parser import build_parser, load_settings

    url = "postgresql://newsbot:pw@db.internal:5432/news"
    env = {"NEWSBOT_DB": str(tmp_path / "env.db"), "DATABASE_URL": url}
    only_file = Settings.from_env({"NEWSBOT_DB": str(tmp_path / "env.db")})
    assert only_file.database == tmp_path / "env.db"
    both = Settings.from_env(env)
    assert both.database == url and both.index_path == Path("newsbot-data/index")
    assert both.database_label == "postgresql://newsbot@db.internal:5432/news"
    assert "pw" not in repr(both)
    assert both.with_database(tmp_path / "cli.db").database == tmp_path / "cli.db"
    assert both.with_database("postgresql://other/x").database == "postgresql://other/x"
    with pytest.raises(SettingsError, match="DATABASE_URL must start with postgresql://"):
        Settings.from_env({"DATABASE_URL": "mysql://x"})
    args = build_parser().parse_args(["--db", str(tmp_path / "cli.db"), "ingest"])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(args).database == tmp_path / "cli.db"


def test_a_bulk_ingest_on_postgres_refreshes_the_planner_statistics(
    pg_url: str, tmp_path: Path
) -> None:
    """Before its first ANALYZE PostgreSQL takes the tables for empty and fetched a search's hits
    by scanning every article; a big ingest analyzes them itself."""
    import psycopg

    from bot.archive import BULK_ARTICLES, Archive
    from bot.settings import Settings

    folder = tmp_path / "news"
    folder.mkdir()
    for i in range(BULK_ARTICLES):
        (folder / f"a{i}.txt").write_text(f"Story {i}\n\nParagraph one of {i}.\n\nTwo.\n")
    archive = Archive.open(
        Settings(articles_dir=folder, index_dir=tmp_path / "index").with_database(pg_url)
    )
    try:
        assert len(archive.ingest().added) == BULK_ARTICLES
    finally:
        archive.close()
    with psycopg.connect(pg_url) as conn:
        tuples = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'passages'::regclass"
        ).fetchone()
    assert tuples is not None and tuples[0] >= 2 * BULK_ARTICLES  # -1: never analyzed


def test_a_file_touched_under_a_new_path_is_a_change_the_workers_see(any_store: Store) -> None:
    s = any_store
    with s.transaction():
        aid, *_ = s.upsert_article("/r/one", article("one"), 10, 1, "sha")
    head = s.change_head()
    s.touch_file("/r/one", "/a/one.txt", 10, 2)  # same path: only the stat is remembered
    assert s.change_head() == head
    s.touch_file("/r/one", "/b/one.txt", 10, 3)  # reached through a new link: shown everywhere
    assert [a for _, a in s.changes_after(head)] == [aid]
    assert s.article(aid).path == "/b/one.txt"
