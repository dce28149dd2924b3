"""Follows, their queue, the alert ledger and desk channels in the store interface, run against
both back-ends (a SQLite file and the real PostgreSQL server), and the follows end to end over
an archive on PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS, add_article, all_at_once

from bot.store import Store, open_store


def test_follows_are_saved_listed_and_removed_per_user(any_store: Store) -> None:
    s = any_store
    a = s.add_follow("U1", "wagner mali")
    b = s.add_follow("U1", '"french troops" -russia')
    c = s.add_follow("U2", "volcano")
    assert [f.query for f in s.follows("U1")] == ["wagner mali", '"french troops" -russia']
    assert [f.id for f in s.follows()] == [a.id, b.id, c.id]
    assert s.follows("U1")[0].created_at == a.created_at
    assert not s.remove_follow("U2", a.id)  # not theirs
    assert s.remove_follow("U1", a.id) and not s.remove_follow("U1", a.id)
    assert [f.id for f in s.follows("U1")] == [b.id]


def test_new_articles_are_queued_once_and_taken_once(any_store: Store) -> None:
    s = any_store
    add_article(s, "one")
    add_article(s, "two")
    add_article(s, "one")  # an update: not queued again
    ids = sorted(a.id for a in s.articles())
    assert s.take_follow_queue(1) == ids[:1]
    assert s.take_follow_queue(10) == ids[1:]
    assert s.take_follow_queue(10) == []


def test_concurrent_takers_share_the_queue_without_overlap(
    any_store: Store, tmp_path: Path
) -> None:
    for n in range(40):
        add_article(any_store, f"a{n}")
    target = getattr(any_store, "url", None) or tmp_path / "news.db"
    stores = [open_store(target) for _ in range(4)]

    def take(s: Store) -> list[int]:
        got: list[int] = []
        while batch := s.take_follow_queue(3):
            got.extend(batch)
        return got

    taken = all_at_once(take, stores)
    for s in stores:
        s.close()
    everything = [i for part in taken for i in part]
    assert sorted(everything) == sorted(a.id for a in any_store.articles())
    assert len(everything) == len(set(everything)) == 40


def test_an_alert_is_claimed_once_even_in_a_race(any_store: Store, tmp_path: Path) -> None:
    target = getattr(any_store, "url", None) or tmp_path / "news.db"
    stores = [open_store(target) for _ in range(5)]
    results = all_at_once(lambda s: s.claim_alert(7, 9, "U1"), stores)
    for s in stores:
        s.close()
    assert sorted(results) == [False, False, False, False, True]
    any_store.mark_alerts([(7, 9)], "failed", "user_not_found")
    assert any_store.alert_rows() == [(7, 9, "U1", "failed")]
    assert not any_store.claim_alert(7, 9, "U1")  # failed stays claimed: never a second DM


def test_desk_channels(any_store: Store) -> None:
    s = any_store
    s.set_desk("C2", "football", "U1")
    s.set_desk("C1", "", "U1")
    s.set_desk("C2", "football -cricket", "U2")
    assert [(d.channel, d.query) for d in s.desks()] == [("C1", ""), ("C2", "football -cricket")]
    assert s.remove_desk("C1") and not s.remove_desk("C1")
    assert [d.channel for d in s.desks()] == ["C2"]


def test_copy_carries_follows_alerts_and_desks(any_store: Store, tmp_path: Path) -> None:
    from bot.store.base import COPIED_TABLES

    src = any_store
    f = src.add_follow("U1", "volcano")
    src.claim_alert(f.id, 3, "U1")
    src.set_desk("C1", "football", "U1")
    dst = open_store(tmp_path / "copy.db")
    for table in COPIED_TABLES:
        columns, rows = src.export_rows(table)
        dst.import_rows(table, columns, rows)
    dst.after_import()
    assert dst.follows() == src.follows()
    assert dst.alert_rows() == src.alert_rows()
    assert dst.desks() == src.desks()
    assert dst.add_follow("U2", "lava").id > f.id  # ids continue past the copied ones
    dst.close()


@pytest.fixture
def pg_archive(tmp_path: Path, pg_url: str) -> Any:
    from bot.archive import Archive
    from bot.settings import Settings

    shutil.copytree(SEEDS, tmp_path / "seeds")
    arch = Archive.open(
        Settings(
            db_path=tmp_path / "db" / "newsbot.db",
            database_url=pg_url,
            articles_dir=tmp_path / "seeds",
        )
    )
    arch.ingest()
    yield arch
    arch.close()


def test_follow_alerts_end_to_end_on_postgresql(pg_archive: Any) -> None:
    archive = pg_archive
    assert archive.take_alerts() == []  # the seeds predate every follow
    archive.follow("U1", "volcano eruption")
    folder = archive.settings.articles_dir
    (folder / "v.txt").write_text("Volcano erupts\n\nThe volcano eruption sent ash.\n")
    archive.ingest()
    alerts = archive.take_alerts()
    assert [(a.user_id, [m.article.title for m in a.matches]) for a in alerts] == [
        ("U1", ["Volcano erupts"])
    ]
    assert archive.take_alerts() == []
    archive.subscribe_desk("C1", "volcano", "U1")
    new = [a.id for a in archive.articles() if a.title == "Volcano erupts"]
    assert archive.match_articles("volcano", [a.id for a in archive.articles()]) == set(new)
