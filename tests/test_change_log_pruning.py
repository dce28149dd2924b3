"""The change log is pruned (the active scheduler's job) and no worker misses a change for it: a
worker whose index stands below the pruned horizon rebuilds it from the database. Both back-ends,
two archives (two workers, each with its own index) on one database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import titles

from bot.archive import Archive
from bot.changes import RETENTION
from bot.schedule import start_scheduler, stop_scheduler
from bot.settings import Settings

LATER = datetime.now(UTC) + RETENTION + timedelta(days=1)  # every change is old by then


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Archive, Archive]]:
    """The ingesting worker and a second one, on one database, each with its own index."""
    folder = tmp_path / "articles"
    folder.mkdir()
    settings = Settings(db_path=tmp_path / "db" / "news.db", articles_dir=folder)
    if request.param == "postgresql":
        settings = settings.with_database(request.getfixturevalue("pg_url"))
    ingester = Archive.open(replace(settings, index_dir=tmp_path / "one"))
    other = Archive.open(replace(settings, index_dir=tmp_path / "two"))
    yield ingester, other
    other.close()
    ingester.close()


def add(archive: Archive, name: str, word: str) -> None:
    path = archive.settings.articles_dir / f"{name}.txt"
    path.write_text(f"{name.title()} report\n\nThe {word} was seen on the coast.\n", "utf-8")
    archive.ingest()


def test_a_worker_behind_the_pruned_log_rebuilds_and_misses_nothing(
    workers: tuple[Archive, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    ingester, other = workers
    add(ingester, "first", "albatross")
    other.catch_up()
    assert titles(other, "albatross") == ["First report"]
    # The other worker is down while two more articles arrive and the log is pruned.
    add(ingester, "second", "cormorant")
    add(ingester, "third", "pelican")
    assert ingester.prune_changes(now=LATER) > 0  # all but the newest change
    caplog.set_level(logging.WARNING, logger="newsbot.archive")
    other.catch_up()
    assert "pruned past it" in caplog.text
    assert titles(other, "cormorant") == ["Second report"]  # its change was pruned
    assert titles(other, "pelican") == ["Third report"]
    assert titles(other, "albatross") == ["First report"]
    status = other.index_status()
    assert status["lag"] == 0 and status["caught_up"]
    # Caught up: no second rebuild, and new changes are applied one by one again.
    caplog.clear()
    add(ingester, "fourth", "gannet")
    assert other.catch_up() == 1
    assert titles(other, "gannet") == ["Fourth report"] and "pruned" not in caplog.text


BIRDS = ("cormorant", "pelican", "gannet", "puffin", "kittiwake")


def test_a_prune_between_two_batches_of_a_catch_up_rebuilds_and_misses_nothing(
    workers: tuple[Archive, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    """The active scheduler prunes while a lagging worker is half-way through its catch-up: the
    changes of the batches still to come are gone, so the worker rebuilds; the articles of the
    batch it already applied (uncommitted) are neither lost nor indexed twice."""
    ingester, other = workers
    add(ingester, "first", "albatross")
    other.catch_up()
    for n, bird in enumerate(BIRDS):
        add(ingester, f"bird{n}", bird)
    batches: list[int] = []

    def prune_after_the_first_batch(applied: int) -> None:
        batches.append(applied)
        if len(batches) == 1:
            assert ingester.prune_changes(now=LATER) == len(BIRDS)  # all but the newest

    caplog.set_level(logging.WARNING, logger="newsbot.archive")
    other.catch_up(batch=2, on_batch=prune_after_the_first_batch)
    assert batches[0] == 2 and "pruned past it" in caplog.text
    for n, bird in enumerate(("albatross", *BIRDS)):
        assert titles(other, bird) == ["First report" if n == 0 else f"Bird{n - 1} report"]
    assert other.index.num_docs() == 1 + len(BIRDS)  # one passage each, none twice
    status = other.index_status()
    assert status["lag"] == 0 and status["caught_up"]
    caplog.clear()
    add(ingester, "last", "shearwater")
    assert other.catch_up(batch=2) == 1 and "pruned" not in caplog.text
    assert titles(other, "shearwater") == ["Last report"]


def test_a_worker_that_kept_up_only_applies_what_is_new(
    workers: tuple[Archive, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    ingester, other = workers
    add(ingester, "first", "albatross")
    add(ingester, "second", "cormorant")
    other.catch_up()
    ingester.prune_changes(now=LATER)
    caplog.set_level(logging.WARNING, logger="newsbot.archive")
    assert other.catch_up() == 0 and "pruned" not in caplog.text
    add(ingester, "third", "pelican")  # the ingester's own index follows its own writes
    assert titles(ingester, "pelican") == ["Third report"] and "pruned" not in caplog.text
    assert other.catch_up() == 1 and titles(other, "pelican") == ["Third report"]


def test_recent_changes_are_kept(workers: tuple[Archive, Archive]) -> None:
    ingester, _ = workers
    add(ingester, "first", "albatross")
    add(ingester, "second", "cormorant")
    assert ingester.prune_changes() == 0  # nothing is RETENTION old yet
    assert len(ingester.store.changes_after(0)) == 2


def test_the_active_scheduler_prunes_at_start_and_then_on_a_timer() -> None:
    pruned = threading.Event()
    settings: Any = Settings(digest_channels=())
    scheduler = start_scheduler(settings, lambda day: None, None, prune=pruned.set)
    try:
        job = scheduler.get_job("prune-changes")
        assert job.trigger.interval == timedelta(hours=6)
        assert pruned.wait(5)  # the first run is right away
    finally:
        stop_scheduler(scheduler)
