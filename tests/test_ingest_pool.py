"""A big ingest reads files and tokenizes passages in worker processes (``bot.workers``): the same
report, store and search results as the inline path, bad files included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bot.archive
from bot.archive import Archive
from bot.settings import Settings
from bot.workers import Workers, load_file, tokenize_chunk, tokenize_rows

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUERIES = ("mercenary", "Thomas Brooke", "Bandiagra mercinaries", '"the french"', "mali -wagner")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01binary")
    (folder / "cp1252.txt").write_bytes(
        "Caf\xe9 headline\n\nA paragraph about the caf\xe9 in Bamako.\n".encode("cp1252")
    )
    return folder


def _ingest(tmp_path: Path, name: str, folder: Path) -> tuple[Archive, list[tuple[str, str]]]:
    archive = Archive.open(Settings(db_path=tmp_path / name / "newsbot.db", articles_dir=folder))
    report = archive.ingest()
    skipped = sorted((Path(p).name, why) for p, why in report.skipped)
    return archive, skipped


def _answers(archive: Archive) -> list[list[tuple[str, int, tuple[tuple[int, int], ...]]]]:
    return [
        [(Path(h.article.path).name, h.paragraph, h.spans) for h in archive.search(q).hits]
        for q in QUERIES
    ]


def test_pool_and_inline_ingest_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path)
    inline, inline_skipped = _ingest(tmp_path, "inline", folder)
    started: list[Workers] = []
    real_start = bot.archive._start_workers

    def start(items: int, at_least: int) -> Workers | None:
        found = real_start(items, 1)
        if found is not None:
            started.append(found)
        return found

    monkeypatch.setattr(bot.archive, "worker_count", lambda: 2)
    monkeypatch.setattr(bot.archive, "_start_workers", start)
    pooled, pooled_skipped = _ingest(tmp_path, "pooled", folder)
    assert len(started) == 1  # the ingest used a pool (the files and the passages)
    assert pooled_skipped == inline_skipped and len(inline_skipped) == 2
    assert pooled.store.counts() == inline.store.counts()
    assert _answers(pooled) == _answers(inline)
    assert any(_answers(inline))
    # A rebuild from the store goes through the pool too, with the same result.
    assert pooled.rebuild_index() == inline.store.counts()[1]
    assert len(started) == 2
    assert _answers(pooled) == _answers(inline)
    inline.close()
    pooled.close()


def test_workers_keep_order_with_a_small_window() -> None:
    workers = Workers(2)
    try:
        rows = [(i, i // 3, f"Word{i} café 2,700", "Head", "By Line", 0) for i in range(50)]
        got = list(workers.ordered(tokenize_chunk, rows, chunk=4, ahead=1))
    finally:
        workers.close()
    assert got == list(tokenize_rows(rows))
    assert got[7][2] == "word7 cafe 2700"


def test_load_file_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "good.txt").write_text("Headline\n\nBody text here.\n", encoding="utf-8")
    assert load_file(str(tmp_path / "empty.txt"), "empty.txt") == (None, "empty file")
    assert load_file(str(tmp_path / "gone.txt"), "gone.txt") == (None, "not a regular file")
    article, digest = load_file(str(tmp_path / "good.txt"), "shown/good.txt")
    assert article is not None and article.path == "shown/good.txt" and len(digest) == 40
