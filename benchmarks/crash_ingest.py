"""kill -9 an ingest at random moments, again and again, and check nothing is lost or torn.

Each round changes part of a synthetic corpus (edits, new files, deletions), starts
``python -m bot ingest`` and SIGKILLs it after a random delay. Then it checks that
- the database opens and passes ``PRAGMA integrity_check``;
- every article that was live before the round and whose file still exists is still live
  (nothing already ingested is lost);
- the index agrees with the store: each live article's unique word finds exactly its passages
  (no half-ingested article is visible to search);
and finally that a normal ingest completes and the archive matches the folder exactly.

    python benchmarks/crash_ingest.py --rounds 50 --files 1500
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.archive import Archive  # noqa: E402
from bot.index import WordQuery  # noqa: E402
from bot.settings import Settings  # noqa: E402

WORDS = "council budget river harbour election museum festival railway hospital market".split()


@dataclass
class RoundResult:
    round: int
    killed_after_s: float
    finished_before_kill: bool
    live_before: int
    live_after: int


def write_article(folder: Path, n: int, version: int, rng: random.Random) -> None:
    token = f"art{n:05d}v{version}"
    paras = [
        " ".join(rng.choice(WORDS) for _ in range(40)) + f" {token} paragraph {i}."
        for i in range(3)
    ]
    (folder / f"{n:05d}.txt").write_text(f"Story {n}\n\n" + "\n\n".join(paras) + "\n")


def unique_token(archive: Archive, article_id: int) -> str:
    first = archive.store.passages_of(article_id)[0].text
    return next(w for w in first.split() if w.startswith("art"))


def check_consistent(archive: Archive) -> int:
    """Every live article's token finds exactly its passages; returns the live count."""
    conn = archive.store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    live = archive.store.articles()
    for article in live:
        passages = {p.id for p in archive.store.passages_of(article.id)}
        assert passages, f"{article.path}: live article without passages"
        token = unique_token(archive, article.id).rstrip(".")
        found = {pid for pid, _ in archive.index.search([WordQuery(token, 0)], limit=20)}
        assert found == passages, (
            f"{article.path}: index {sorted(found)} != store {sorted(passages)}"
        )
    return len(live)


def run(rounds: int, files: int, workdir: Path, seed: int = 7) -> list[RoundResult]:
    rng = random.Random(seed)
    corpus = workdir / "articles"
    corpus.mkdir(parents=True, exist_ok=True)
    db = workdir / "newsbot.db"
    versions = {n: 0 for n in range(files)}
    for n in versions:
        write_article(corpus, n, 0, rng)
    cmd = [sys.executable, "-m", "bot", "--db", str(db), "--articles", str(corpus), "ingest"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=workdir)
    clean_s = time.perf_counter() - started
    settings = Settings(db_path=db, articles_dir=corpus)
    results = []
    next_id = files
    for r in range(rounds):
        archive = Archive.open(settings)
        before = {a.path for a in archive.store.articles()}
        archive.close()
        # Change a third of the corpus, add some files, delete some.
        for n in rng.sample(sorted(versions), k=max(1, len(versions) // 3)):
            versions[n] += 1
            write_article(corpus, n, versions[n], rng)
        for _ in range(max(1, files // 50)):
            versions[next_id] = 0
            write_article(corpus, next_id, 0, rng)
            next_id += 1
        for n in rng.sample(sorted(versions), k=max(1, files // 100)):
            (corpus / f"{n:05d}.txt").unlink()
            del versions[n]
        proc = subprocess.Popen(
            cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        delay = rng.uniform(0.05, clean_s * 0.7)  # most kills land mid-ingest
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        archive = Archive.open(settings)  # repairs an interrupted index update
        live_after = check_consistent(archive)
        now_live = {a.path for a in archive.store.articles()}
        still_there = {p for p in before if Path(p).exists()}
        lost = still_there - now_live
        assert not lost, f"round {r}: lost {sorted(lost)[:5]}"
        archive.close()
        results.append(RoundResult(r, round(delay, 3), finished, len(before), live_after))
    # A normal ingest completes and the archive matches the folder.
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=workdir)
    archive = Archive.open(settings)
    live = check_consistent(archive)
    assert live == len(versions) == len(list(corpus.glob("*.txt")))
    for article in archive.store.articles():
        n = int(Path(article.path).stem)
        assert unique_token(archive, article.id).rstrip(".") == f"art{n:05d}v{versions[n]}"
    archive.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args.rounds, args.files, Path(tmp), args.seed)
    killed = sum(not r.finished_before_kill for r in results)
    print(f"{'round':>5} {'kill after s':>12} {'killed':>6} {'live before':>11} {'live after':>10}")
    for r in results:
        print(
            f"{r.round:>5} {r.killed_after_s:>12.3f} {not r.finished_before_kill!s:>6}"
            f" {r.live_before:>11} {r.live_after:>10}"
        )
    print(
        f"\n{len(results)} rounds, {killed} killed mid-ingest, 0 lost, 0 torn: "
        "database intact, index consistent, final ingest complete."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
