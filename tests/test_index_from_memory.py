"""An ingest indexes the passages it wrote from the index texts it made, not from the store read
back: the same index as one built from the store, and the store's version wherever another
process changed an article after this one wrote it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_reading_workers import _write_folder

from bot.archive import Archive
from bot.changes import Cursor
from bot.models import Article
from bot.settings import Settings

QUERIES = (
    "attacks",
    "attack council",
    "economys minister",
    "krakow",
    "2700",
    "£42bn",
    "word17",
    "brooke",
    "headline 12",
    '"council attack"',
    "by:brooke mercenaries",
)


def _hits(archive: Archive) -> dict[str, list[tuple[int, float]]]:
    return {
        q: [(h.passage_id, round(h.score, 4)) for h in archive.search(q, limit=10).hits]
        for q in QUERIES
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_ingest_indexes_what_a_rebuild_from_the_store_does(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    folder = tmp_path / "articles"
    folder.mkdir()
    _write_folder(folder, 60)
    (folder / "dated.txt").write_text(
        "Council votes\n\nauthor: Ana Ruiz\npublished: 2026-03-01T09:30:00Z\n\n"
        "The council attacked the budget.\n\nMinisters said 2,700 jobs go.\n",
        encoding="utf-8",
    )
    archive = Archive.open(
        Settings(
            db_path=tmp_path / "newsbot.db",
            articles_dir=folder,
            database_url=url,
            index_dir=tmp_path / "index",
        )
    )
    asked: list[tuple[int, bool]] = []  # (articles asked for, with their texts?)
    read = archive.store.index_rows

    def index_rows(ids: Sequence[int] | None = None, *, texts: bool = True) -> Any:
        asked.append((len(ids) if ids is not None else -1, texts))
        return read(ids, texts=texts)

    monkeypatch.setattr(archive.store, "index_rows", index_rows)
    try:
        archive.ingest(workers=0)
        # the ingest's own passages were indexed from the texts in hand, not read back
        assert (61, False) in asked and all(not texts for n, texts in asked if n), asked
        ingested = _hits(archive)
        assert all(ingested.values()), [q for q, h in ingested.items() if not h]
        archive.rebuild_index()  # every row read from the store
        assert _hits(archive) == ingested  # the same passages, ids and scores
        # An update and a removal: the new passages under their new ids, the old ones gone
        # (scores are not compared: deleted documents count in BM25 until segments merge).
        (folder / "a0012.txt").write_text(
            "Headline 12 rewritten\n\nauthor: Thomas Brooke\n\nZeppelins attacked the council."
            "\n\nA second paragraph about yaks.\n",
            encoding="utf-8",
        )
        (folder / "a0013.txt").unlink()
        report = archive.ingest(workers=0)
        assert report.updated and report.removed
        for query, text in (("zeppelin", "Zeppelins attacked"), ("yaks", "about yaks")):
            (hit,) = archive.search(query).hits
            assert hit.article.title == "Headline 12 rewritten" and text in hit.text
        assert not archive.search("word12").hits and not archive.search("word13").hits
    finally:
        archive.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def race(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Archive, int, int, int]]:
    """One article written twice since the index last looked, both changes still to apply:
    first as this process wrote it ("aardvarks", change ``mine``), then by another process
    ("badgers", change ``theirs``): (the archive, the article's id, mine, theirs)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    folder = tmp_path / "articles"
    folder.mkdir()
    settings = Settings(
        db_path=tmp_path / "newsbot.db",
        articles_dir=folder,
        database_url=url,
        index_dir=tmp_path / "index",
    )
    path = str(folder / "a.txt")
    archive = Archive.open(settings)
    with archive.store.transaction():
        article = Article(path, "Alpha", ("Aardvarks arrived.",))
        aid, _, mine = archive.store.upsert_article(path, article, 1, 1, "a")
    other = Archive.open(settings, catch_up=False)
    try:
        with other.store.transaction():
            article = Article(path, "Alpha", ("Badgers arrived.",))
            _, _, theirs = other.store.upsert_article(path, article, 2, 2, "b")
    finally:
        other.close()
    assert theirs > mine
    yield archive, aid, mine, theirs
    archive.close()


def _apply(archive: Archive, written: dict[int, tuple[int, tuple[str, ...]]]) -> None:
    with archive._index_lock:
        writer = archive.index.writer()
        cursor = archive._load_cursor() or Cursor()
        archive._apply_changes(writer, cursor, written=written)
        archive._commit_index(writer, cursor)


def _found(archive: Archive, word: str) -> bool:
    return bool(archive.search(word).hits)


def test_texts_in_hand_are_indexed_when_their_change_is_the_latest(
    race: tuple[Archive, int, int, int],
) -> None:
    archive, aid, _, theirs = race
    _apply(archive, {aid: (theirs, ("zebras",))})
    assert _found(archive, "zebras") and not _found(archive, "badgers")


def test_an_article_changed_since_it_was_written_is_read_from_the_store(
    race: tuple[Archive, int, int, int],
) -> None:
    archive, aid, mine, _ = race
    _apply(archive, {aid: (mine, ("zebras",))})  # the other's later change is pending too
    assert _found(archive, "badgers")
    assert not _found(archive, "zebras") and not _found(archive, "aardvarks")


def test_texts_that_do_not_match_the_stored_passages_are_not_used(
    race: tuple[Archive, int, int, int],
) -> None:
    archive, aid, _, theirs = race
    _apply(archive, {aid: (theirs, ("zebras", "yaks"))})  # the store holds one passage
    assert _found(archive, "badgers") and not _found(archive, "zebras")
