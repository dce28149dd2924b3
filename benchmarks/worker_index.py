"""A PostgreSQL-backed worker's local index: search speed against SQLite, and catch-up time.

    .venv/bin/python -m benchmarks.worker_index                      # 20k passages, then 100k new
    .venv/bin/python -m benchmarks.worker_index --base 50000 --new 100000

In one run, on one synthetic corpus (``benchmarks.corpus``):

1. search: the same queries (exact and with typos) on an archive over the SQLite file and on a
   worker over PostgreSQL (fresh database on ``--pg-url``'s server, dropped after). Both search
   their own local tantivy index; PostgreSQL serves only the hits' passages and articles.
2. catch-up: another process ingests ``--new`` passages into PostgreSQL; the worker, caught up
   before, applies the change log (``Archive.catch_up``) and the new passages become searchable.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.corpus import write_corpus
from benchmarks.slack_load import PG_URL, _pg_database
from bot.archive import Archive
from bot.settings import Settings


def _summary(samples: list[float]) -> dict:
    return {"p50": _pct(samples, 50), "p99": _pct(samples, 99), "n": len(samples)}


def _pct(samples: list[float], p: float) -> float:
    data = sorted(samples)
    return data[min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))]


def _search_times(archive: Archive, queries: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        for q in queries:
            started = time.perf_counter()
            archive.search(q, limit=5)
            times.append((time.perf_counter() - started) * 1000)
    return times


def _ids(archive: Archive, query: str) -> list[int]:
    return [h.passage_id for h in archive.search(query, limit=5).hits]


def run(base: int, new: int, pg_url: str, *, rounds: int = 3, quiet: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="newsbot-worker-") as tmp, _pg_database(pg_url) as db:
        root = Path(tmp)
        (root / "base").mkdir()
        (root / "new").mkdir()
        write_corpus(root / "base", base, seed=7, queries=100, warmup=10)
        queries = json.loads((root / "base" / "queries.json").read_text())
        texts = [q["clean"] for q in queries["queries"]] + [q["typo"] for q in queries["queries"]]
        warm = [q["clean"] for q in queries["warmup"]]

        lite = Archive.open(Settings(db_path=root / "lite.db", articles_dir=root / "base/articles"))
        lite.ingest()
        pg = Settings(articles_dir=root / "base/articles").with_database(db)
        ingester = Archive.open(replace(pg, index_dir=root / "ingest-idx"))
        ingester.ingest()
        started = time.perf_counter()
        worker = Archive.open(replace(pg, index_dir=root / "worker-idx"))
        first_build = time.perf_counter() - started

        for archive in (lite, worker):
            _search_times(archive, warm, 1)
        lite_ms = _search_times(lite, texts, rounds)
        # the worker keeps the rows of hits it has read (bot.store.hit_cache): its first pass
        # over the queries reads them from PostgreSQL, later passes find them kept
        pg_first = _search_times(worker, texts, 1)
        pg_later = _search_times(worker, texts, rounds - 1) if rounds > 1 else []
        agree = sum(_ids(lite, q) == _ids(worker, q) for q in texts)

        write_corpus(root / "new", new, seed=8, queries=1, warmup=0)
        started = time.perf_counter()
        report = ingester.ingest([root / "new" / "articles"])
        ingest_s = time.perf_counter() - started
        before = worker.index.num_docs()
        started = time.perf_counter()
        applied = worker.catch_up()
        catch_up_s = time.perf_counter() - started
        indexed = worker.index.num_docs() - before
        status = worker.index_status()
        for archive in (lite, ingester, worker):
            archive.close()

    result = {
        "base_passages": base,
        "new_passages": new,
        "search_ms": {
            "sqlite": _summary(lite_ms),
            "postgres": _summary(pg_first + pg_later),
            "postgres_first_pass": _summary(pg_first),
        },
        "same_hits": f"{agree}/{len(texts)}",
        "first_build_s": first_build,
        "ingest_new_s": ingest_s,
        "new_articles": len(report.added),
        "catch_up_s": catch_up_s,
        "catch_up_changes": applied,
        "catch_up_passages": indexed,
        "lag_after": status["lag"],
    }
    if pg_later:
        result["search_ms"]["postgres_later_passes"] = _summary(pg_later)
    if not quiet:
        s = result["search_ms"]
        print(f"{'search (local index)':34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10}")
        names = {
            "sqlite": "sqlite archive",
            "postgres": "postgres worker, every pass",
            "postgres_first_pass": "postgres worker, first pass",
            "postgres_later_passes": "postgres worker, later passes",
        }
        for name, label in names.items():
            if name not in s:
                continue
            print(
                f"{label:34} {s[name]['n']:5d} {s[name]['p50']:8.2f}"
                f" {s[name]['p99']:8.2f} {s[name]['p50'] / s['sqlite']['p50']:9.2f}x"
            )
        print(f"same top-5 hits on both: {result['same_hits']} queries")
        print(
            f"\nworker's first index build from PostgreSQL ({base} passages): {first_build:.1f} s"
        )
        print(
            f"another process ingested {indexed} new passages ({len(report.added)} articles)"
            f" into PostgreSQL in {ingest_s:.1f} s"
        )
        print(
            f"worker catch-up: {applied} changes, {indexed} passages in {catch_up_s:.1f} s"
            f" ({indexed / max(catch_up_s, 1e-9):,.0f} passages/s); lag after: {status['lag']}"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=int, default=20_000, help="passages searched")
    parser.add_argument("--new", type=int, default=100_000, help="passages to catch up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    result = run(ns.base, ns.new, ns.pg_url, rounds=ns.rounds)
    if ns.json:
        print(json.dumps(result, indent=2))
    return 0 if result["lag_after"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
