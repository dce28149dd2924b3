"""Ingest under fire: kill -9 mid-ingest, and searches while another process ingests."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.crash_ingest import run as crash_rounds
from benchmarks.crash_ingest import write_article
from bot.archive import Archive
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_kill_9_during_ingest_smoke(tmp_path: Path) -> None:
    results = crash_rounds(rounds=4, files=300, workdir=tmp_path)
    assert len(results) == 4  # every round's checks (integrity, nothing lost, no torn article) ran


def test_searches_answer_and_never_see_half_an_article_while_another_process_ingests(
    tmp_path: Path,
) -> None:
    """1,500 articles are in; another process adds 1,500 and rewrites 500 while we search."""
    corpus = tmp_path / "articles"
    corpus.mkdir()
    rng = random.Random(3)
    for n in range(1500):
        write_article(corpus, n, 0, rng)
    db = tmp_path / "n.db"
    archive = Archive.open(Settings(db_path=db, articles_dir=corpus))
    archive.ingest()
    for n in range(1500, 3000):
        write_article(corpus, n, 0, rng)
    for n in range(500):
        write_article(corpus, n, 1, rng)  # rewritten: version 1 replaces version 0
    ingest = subprocess.Popen(
        [sys.executable, "-m", "bot", "--db", str(db), "--articles", str(corpus), "ingest"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def found(n: int, version: int) -> int:
        result = archive.search(f"art{n:05d}v{version}", limit=10)
        return sum(Path(h.article.path).name == f"{n:05d}.txt" for h in result.hits)

    searches = 0
    while ingest.poll() is None or searches < 60:
        untouched = rng.randrange(500, 1500)
        assert found(untouched, 0) == 3, f"article {untouched} lost during the ingest"
        new, rewritten = rng.randrange(1500, 3000), rng.randrange(500)
        assert found(new, 0) in (0, 3), f"new article {new} seen in part"
        # A rewritten article shows its old version or its new one, whole, never a mix.
        old_n, new_n = found(rewritten, 0), found(rewritten, 1)
        assert (old_n, new_n) in ((3, 0), (0, 3), (0, 0)), (rewritten, old_n, new_n)
        searches += 1
    out, err = ingest.communicate()
    assert ingest.returncode == 0, err
    assert out.startswith("added 1500, updated 500")
    # Another process's commit reaches this reader within about a second.
    deadline = time.monotonic() + 5
    while found(2999, 0) != 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found(2999, 0) == 3 and found(7, 1) == 3 and found(7, 0) == 0
    archive.close()
