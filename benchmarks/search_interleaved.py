"""Ours against the raw tantivy peer, query by query in one process (the noise-resistant view).

``search_bench.py`` measures each approach in its own subprocess, one after the other, so a burst
of load on this shared 2-core machine lands on whichever phase is running. Here both search the
same corpus in the same process, alternating on every query, for several rounds, so both see the
same machine; the ratio ours/peer is the number to trust.

    python -m benchmarks.search_bench --sizes 100000 --approaches ours,tantivy --workdir W --keep
    python -m benchmarks.search_interleaved --workdir W --size 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.search_bench import open_ours, open_tantivy, percentile


def interleave(
    searches: dict[str, Callable[[str], list[int]]],
    queries: list[dict],
    rounds: int,
) -> dict[tuple[str, str], dict[str, float]]:
    """(approach, set) -> p50, p95 (ms) and recall@5, the approaches alternating per query."""
    times: dict[tuple[str, str], list[float]] = {}
    found: dict[tuple[str, str], int] = {}
    for _ in range(rounds):
        for q in queries:
            for kind in ("clean", "typo"):
                for name, search in searches.items():
                    started = time.perf_counter()
                    ids = search(q[kind])
                    times.setdefault((name, kind), []).append((time.perf_counter() - started) * 1e3)
                    found[(name, kind)] = found.get((name, kind), 0) + (q["target"] in ids[:5])
    total = rounds * len(queries)
    return {
        key: {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "recall": found[key] / total,
        }
        for key, values in times.items()
    }


def format_table(results: dict[tuple[str, str], dict[str, float]], size: int, runs: int) -> str:
    lines = [
        f"{size:,} passages, {runs} searches per cell, approaches alternating per query",
        "",
        "| set | ours p50 ms | ours p95 ms | peer p50 ms | peer p95 ms | p95 ours/peer"
        " | ours R@5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("clean", "typo"):
        ours, peer = results[("ours", kind)], results[("tantivy", kind)]
        lines.append(
            f"| {kind} | {ours['p50']:.2f} | {ours['p95']:.2f} | {peer['p50']:.2f} |"
            f" {peer['p95']:.2f} | {ours['p95'] / peer['p95']:.2f}x | {ours['recall']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="kept by search_bench --keep")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=None, help="first N queries only")
    args = parser.parse_args(argv)
    corpus = args.workdir / f"corpus-{args.size}"
    data = json.loads((corpus / "queries.json").read_text())
    queries = data["queries"][: args.queries] if args.queries else data["queries"]
    searches = {
        "ours": open_ours(corpus, args.workdir / f"state-{args.size}-ours"),
        "tantivy": open_tantivy(corpus, args.workdir / f"state-{args.size}-tantivy"),
    }
    interleave(searches, data["warmup"][:20], 1)  # warm caches, not timed
    results = interleave(searches, queries, args.rounds)
    print(format_table(results, args.size, args.rounds * len(queries)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
