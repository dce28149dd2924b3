"""A big ingest reads its files in worker processes: the same store, index and vocabulary as
reading them in-process, bad files reported the same way."""

from __future__ import annotations

import logging
import os
import random
import signal
from pathlib import Path

import pytest

from benchmarks.search_bench import proc_stat
from bot.archive import Archive
from bot.settings import Settings

WORDS = "council attack attacked attacks economy economies colony mercenaries minister said".split()
NAMES = ["Kraków", "Sávaré", "Gaddafi's", "Brooke", "O'Neill"]


def _write_folder(root: Path, n: int) -> None:
    rng = random.Random(5)
    for i in range(n):
        paragraphs = []
        for _ in range(rng.randint(2, 5)):
            words = rng.choices(WORDS, k=rng.randint(8, 20))
            words[rng.randrange(len(words))] = rng.choice(NAMES)
            words.append(rng.choice(["2,700", "£42bn", "4.2%", "7.6m", "x_y", "2026"]))
            paragraphs.append(" ".join(words) + f" word{i}.")
        text = f"Headline {i} {rng.choice(NAMES)}\n\nauthor: Thomas Brooke\n\n" + "\n\n".join(
            paragraphs
        )
        (root / f"a{i:04d}.txt").write_text(text + "\n", encoding="utf-8")
    (root / "binary.txt").write_bytes(b"\x00\x01 not text")
    (root / "empty.txt").write_bytes(b"")


def _archive(tmp: Path, folder: Path) -> Archive:
    return Archive.open(Settings(db_path=tmp / "newsbot.db", articles_dir=folder))


def _state(archive: Archive) -> tuple[object, ...]:
    searches = ("attacks", "attack council", "economys minister", "krakow", "2700", "word17")
    hits = {
        q: [(h.article.path.rsplit("/", 1)[-1], h.paragraph) for h in archive.search(q).hits]
        for q in searches
    }
    return archive.counts(), archive.index.num_docs(), archive.index.vocab.num_words(), hits


def test_worker_processes_read_as_this_process_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    _write_folder(folder, 150)
    here, there = _archive(tmp_path / "here", folder), _archive(tmp_path / "there", folder)
    try:
        caplog.set_level(logging.INFO, logger="newsbot.reading")
        a = here.ingest(workers=0)
        assert "worker processes" not in caplog.text
        b = there.ingest(workers=2)
        assert "reading files in 2 worker processes" in caplog.text
        assert len(a.added) == len(b.added) == 150
        assert sorted(a.skipped) == sorted(b.skipped) and len(a.skipped) == 2
        assert _state(here) == _state(there)
        assert all(_state(here)[3].values())  # every search found something
        # A changed file is read again, by the workers too.
        (folder / "a0007.txt").write_text("Rewritten\n\nZeppelins arrived.\n", encoding="utf-8")
        assert (
            here.ingest(workers=0).updated
            == there.ingest(workers=2).updated
            == [str(folder / "a0007.txt")]
        )
        assert _state(here) == _state(there)
        assert there.search("zeppelin").hits[0].article.title == "Rewritten"
    finally:
        here.close()
        there.close()


def _reading_workers() -> list[int]:
    """Pids of this process's reading workers: the children of multiprocessing's fork server,
    which is a child of this process (read from /proc)."""
    parents: dict[int, int] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        stat = proc_stat(f"/proc/{name}/stat")
        if stat is not None:  # else it ended meanwhile
            parents[int(name)] = int(stat[1][1])

    def is_fork_server(pid: int) -> bool:
        try:
            return b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    servers = {p for p, parent in parents.items() if parent == os.getpid() and is_fork_server(p)}
    return [p for p, parent in parents.items() if parent in servers]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker in /proc")
def test_a_worker_killed_mid_ingest_leaves_the_rest_read_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    _write_folder(folder, 700)  # 11 chunks: more than one worker has in flight (8)
    killed: list[int] = []

    def kill_the_worker(done: int, total: int) -> None:
        """At the first file the worker has read, the worker dies: what it has not sent yet
        and the chunks not given to it yet are read in this process."""
        if not killed:
            killed.extend(_reading_workers())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    here, there = _archive(tmp_path / "here", folder), _archive(tmp_path / "there", folder)
    try:
        caplog.set_level(logging.INFO, logger="newsbot.reading")
        here.ingest(workers=0)
        report = there.ingest(workers=1, progress=kill_the_worker)
        assert len(killed) == 1
        assert "a reading worker process died; reading in this process" in caplog.text
        assert len(report.added) == 700 and len(report.skipped) == 2
        assert _state(here) == _state(there)
    finally:
        here.close()
        there.close()
