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
    corpus = tmp_path / "articles"
    corpus.mkdir()
    rng = random.Random(3)
    for n in range(3000):
        write_article(corpus, n, 0, rng)
    db = tmp_path / "n.db"
    settings = Settings(db_path=db, articles_dir=corpus)
    archive = Archive.open(settings)  # creates the database before the writer starts
    ingest = subprocess.Popen(
        [sys.executable, "-m", "bot", "--db", str(db), "--articles", str(corpus), "ingest"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    searches = seen_whole = 0
    while ingest.poll() is None or searches < 50:
        n = rng.randrange(3000)
        result = archive.search(f"art{n:05d}v0", limit=10)
        mine = [h for h in result.hits if Path(h.article.path).name == f"{n:05d}.txt"]
        assert len(mine) in (0, 3), f"article {n} seen with {len(mine)} of its 3 passages"
        searches += 1
        seen_whole += len(mine) == 3
    out, err = ingest.communicate()
    assert ingest.returncode == 0, err
    assert out.startswith("added 3000")
    assert searches >= 50 and seen_whole > 0
    # Another process's commit reaches this reader within about a second.
    deadline = time.monotonic() + 5
    while not archive.search("art02999v0").hits and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(archive.search("art02999v0").hits) == 3
    archive.close()
