"""Ingest: incremental, idempotent, tolerant of bad files, consistent with the index."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import tantivy

from bot.archive import Archive
from bot.changes import Cursor
from bot.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def archive(tmp_path: Path, corpus: Path):  # type: ignore[no-untyped-def]
    a = Archive.open(Settings(db_path=tmp_path / "db" / "newsbot.db", articles_dir=corpus))
    yield a
    a.close()


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_first_ingest_adds_then_nothing_changes(archive: Archive) -> None:
    first = archive.ingest()
    assert len(first.added) == 2 and not first.updated and not first.skipped
    assert archive.store.counts() == (2, 18)
    again = archive.ingest()
    assert not again.changed and again.unchanged == 2
    assert archive.is_stale() is False


def test_changed_file_replaces_its_passages(archive: Archive, corpus: Path) -> None:
    archive.ingest()
    target = corpus / "000_b63c83e36970c003.txt"
    first_seen = archive.store.articles()[-1].first_seen
    write(target, "France has withdrawn\n\nA single new paragraph about zanzibarian goats.\n")
    os.utime(target, ns=(1, 1))  # a different mtime even on coarse clocks
    assert archive.is_stale()
    report = archive.ingest()
    assert [Path(p).name for p in report.updated] == ["000_b63c83e36970c003.txt"]
    assert archive.store.counts() == (2, 14)
    assert (
        archive.search("zanzibarian goats")
        .hits[0]
        .article.path.endswith("000_b63c83e36970c003.txt")
    )
    assert not archive.search("Timbuktu").hits  # old passages are gone
    by_path = {a.path: a for a in archive.store.articles()}
    assert by_path[str(target)].first_seen == first_seen  # first-seen never moves


def test_touched_but_unchanged_file_is_not_rewritten(archive: Archive, corpus: Path) -> None:
    archive.ingest()
    os.utime(corpus / "000_b63c83e36970c003.txt", ns=(5, 5))
    report = archive.ingest()
    assert not report.changed and report.unchanged == 2
    assert not archive.is_stale()


def test_new_and_removed_files(archive: Archive, corpus: Path) -> None:
    archive.ingest()
    write(corpus / "new.txt", "Flood in Valencia\n\nRivers burst their banks in Valencia.\n")
    (corpus / "003_89b01d93bc535f51.txt").unlink()
    report = archive.ingest()
    assert [Path(p).name for p in report.added] == ["new.txt"]
    assert [Path(p).name for p in report.removed] == ["003_89b01d93bc535f51.txt"]
    assert not archive.search("Bandiagara").hits
    assert archive.search("valencia").hits
    # The removed article keeps its row (first-seen is history), but is no longer live.
    assert len(archive.store.articles(include_removed=True)) == 3
    assert len(archive.store.articles()) == 2


def test_bad_files_are_skipped_and_named_and_lose_nothing(archive: Archive, corpus: Path) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (corpus / "latin.txt").write_bytes("Prix\n\nIl coûte 5 €.\n".encode("cp1252"))
    (corpus / "headline-only.txt").write_bytes(b"Only a headline\n")
    (corpus / "dir.txt").mkdir()
    report = archive.ingest()
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert "empty" in skipped["empty.txt"]
    assert "binary" in skipped["binary.txt"]
    assert "no body" in skipped["headline-only.txt"]
    assert "latin.txt" not in skipped
    assert any(Path(p).name == "latin.txt" and "cp1252" in w for p, w in report.warnings)
    assert len(report.added) == 3
    assert archive.search("coute").hits


def test_a_changed_file_that_turns_bad_keeps_the_previous_version(
    archive: Archive, corpus: Path
) -> None:
    archive.ingest()
    target = corpus / "003_89b01d93bc535f51.txt"
    target.write_bytes(b"")
    report = archive.ingest()
    assert "previous version stays searchable" in report.skipped[0][1]
    assert archive.search("Bandiagara").hits


def test_explicit_files_and_missing_paths(archive: Archive, corpus: Path, tmp_path: Path) -> None:
    one = corpus / "000_b63c83e36970c003.txt"
    report = archive.ingest([one, tmp_path / "nope"])
    assert len(report.added) == 1
    assert report.skipped == [(str(tmp_path / "nope"), "no such file or folder")]


def test_symlink_loop_does_not_hang(archive: Archive, corpus: Path) -> None:
    (corpus / "loop").symlink_to(corpus, target_is_directory=True)
    report = archive.ingest()
    assert len(report.added) == 2


def test_index_is_rebuilt_from_the_store_when_missing(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    a.close()
    shutil.rmtree(settings.index_path)
    b = Archive.open(settings)
    assert b.search("Bandiagara").hits
    b.close()


def test_an_upgrade_builds_the_new_index_beside_the_old_one(
    tmp_path: Path, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A new index format is built from the store in its own folder; the older version's index,
    which a still-running older bot may use, is left alone (and named in the log)."""
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    a.close()
    for current in settings.index_path.glob("v*"):
        shutil.rmtree(current)
    builder = tantivy.SchemaBuilder()  # the first release's layout: files directly in the folder
    builder.add_integer_field("passage_id", stored=True, indexed=True, fast=True)
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    old = tantivy.Index(builder.build(), str(settings.index_path))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(passage_id=1, body="bandiagara"))
    writer.commit()
    writer.wait_merging_threads()
    (settings.index_path / "newsbot-index-version").write_text("1")

    b = Archive.open(settings)
    assert "no longer used" in caplog.text
    assert b.search("Vandiagara").hits  # a first-letter typo needs the new layout's fields
    b.close()
    old.reload()
    assert old.searcher().num_docs == 1


def test_an_index_left_empty_by_an_interrupted_build_is_rebuilt(
    tmp_path: Path, corpus: Path
) -> None:
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    writer = a.index.writer()
    a.index.clear(writer)  # what a rebuild killed before its commit leaves behind
    writer.commit()
    writer.wait_merging_threads()  # releases the writer's lock
    a.close()
    b = Archive.open(settings)
    assert b.search("Bandiagara").hits
    b.close()


def test_a_lost_vocabulary_is_rebuilt_so_typos_work_again(tmp_path: Path, corpus: Path) -> None:
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    assert a.search("Bandiagra").hits
    a.close()
    shutil.rmtree(a.index.vocab_path)
    b = Archive.open(settings)
    assert b.search("Bandiagra").hits
    b.close()


def test_interrupted_index_update_is_finished_at_open(tmp_path: Path, corpus: Path) -> None:
    """A crash after the store's commit but before the index commit leaves the index's cursor
    behind the change log: the next open applies what is missing."""
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    assert a.index_status()["lag"] == 0
    # Simulate the crash: the index lost the Bandiagara article and its cursor is one behind.
    target = a.search("Bandiagara").hits[0].article.id
    writer = a.index.writer()
    writer.delete_documents_by_term("article_id", target)
    writer.commit()
    del writer  # releases the index's writer lock
    a.index.refresh()
    assert not a.search("Bandiagara").hits
    head = a.store.change_head()
    Cursor(position=head - 1).save(a.cursor_path)
    assert a.store.changes_after(head - 1) == [(head, target)]  # the last change: that article
    a.close()
    b = Archive.open(settings)
    assert b.index_status()["lag"] == 0
    assert b.search("Bandiagara").hits
    b.close()


def test_two_thousand_articles_ingest(tmp_path: Path) -> None:
    """Not a timing test (see benchmarks/): checks the batched path handles many files."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1200):
        write(folder / f"{i:05}.txt", f"Story {i}\n\nParagraph one of story {i} about town{i}.\n")
    a = Archive.open(Settings(db_path=tmp_path / "m.db", articles_dir=folder))
    report = a.ingest()
    assert len(report.added) == 1200
    assert a.store.counts() == (1200, 1200)
    assert a.search("town1199").hits[0].article.title == "Story 1199"
    a.close()


@pytest.mark.parametrize("how", ["emptied", "missing"])
def test_an_empty_or_missing_articles_folder_never_removes_the_archive(
    tmp_path: Path, corpus: Path, how: str
) -> None:
    """An unmounted share looks like an empty folder (or none): nothing leaves the archive."""
    settings = Settings(db_path=tmp_path / "n.db", articles_dir=corpus)
    a = Archive.open(settings)
    a.ingest()
    before = a.counts()
    aside = tmp_path / "aside"
    shutil.move(str(corpus), aside)
    if how == "emptied":
        corpus.mkdir()
    assert not a.is_stale()
    report = a.ingest()
    assert report.removed == [] and a.counts() == before
    assert a.search("Bandiagara").hits
    if how == "emptied":
        assert "unmounted or emptied folder" in report.warnings[0][1]
    else:
        assert report.skipped == [(str(corpus), "no such file or folder")]
    a.close()


def test_files_are_known_by_their_real_paths(tmp_path: Path, corpus: Path) -> None:
    # The articles folder is a link, and one file in it is a link to a file elsewhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere / "story.txt", "Linked story\n\nA paragraph about linked harbours.\n")
    (corpus / "linked.txt").symlink_to(elsewhere / "story.txt")
    (tmp_path / "via").symlink_to(corpus, target_is_directory=True)
    a = Archive.open(
        Settings(db_path=tmp_path / "db2" / "newsbot.db", articles_dir=tmp_path / "via")
    )
    try:
        assert len(a.ingest().added) == 3
        real = set(a.store.file_states())
    finally:
        a.close()
    assert str((elsewhere / "story.txt").resolve()) in real
    assert {str(p.resolve()) for p in corpus.glob("0*.txt")} <= real
    assert not any("/via/" in p for p in real)
