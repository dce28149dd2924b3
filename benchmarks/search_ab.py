"""Two versions of our search, query by query, interleaved: the noise-resistant before/after.

Each version runs in its own process with its own copy of the code (a ``git worktree`` of the old
commit, say) on the same index kept by ``search_bench --keep``; the driver sends every query to
both, in alternating order, and collects the querying thread's CPU time and the wall time of each
call. On a shared machine the two see the same load, so their ratio means something where two
separate runs a few minutes apart do not.

    python -m benchmarks.search_ab --workdir /tmp/wt9m --size 1000000 --kind typo \\
        --before /tmp/old-tree --after .
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.search_bench import percentile

_WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bot.archive import Archive
from bot.settings import Settings
corpus, state = Path(sys.argv[2]), Path(sys.argv[3])
archive = Archive.open(Settings(db_path=state / "newsbot.db", articles_dir=corpus / "articles"))
data = json.loads((corpus / "queries.json").read_text())
for q in data["warmup"][:20]:
    archive.search(q["clean"])
    archive.search(q["typo"])
print("ready", flush=True)
for line in sys.stdin:
    query = json.loads(line)
    c0, t0 = time.thread_time(), time.perf_counter()
    archive.search(query, limit=5)
    print(json.dumps([(time.thread_time() - c0) * 1000, (time.perf_counter() - t0) * 1000]),
          flush=True)
"""


def _start(tree: Path, corpus: Path, state: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", _WORKER, str(tree.resolve()), str(corpus), str(state)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker for {tree} did not start")
    return proc


def _ask(proc: subprocess.Popen[str], query: str) -> tuple[float, float]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(query) + "\n")
    proc.stdin.flush()
    cpu, wall = json.loads(proc.stdout.readline())
    return float(cpu), float(wall)


def run(
    workdir: Path, size: int, kind: str, trees: Sequence[Path], rounds: int
) -> dict[str, dict[str, float]]:
    corpus = workdir / f"corpus-{size}"
    if not corpus.exists():  # the BBC corpus is named for its source, its state for its size
        corpus = workdir / "corpus-bbc"
    state = workdir / f"state-{size}-ours"
    data = json.loads((corpus / "queries.json").read_text())
    queries = [q[kind] for q in data["queries"] if q.get(kind)]
    procs = [_start(tree, corpus, state) for tree in trees]
    cpu: list[list[float]] = [[] for _ in trees]
    wall: list[list[float]] = [[] for _ in trees]
    try:
        for r in range(rounds):
            for i, query in enumerate(queries):
                order = range(len(trees)) if (i + r) % 2 == 0 else reversed(range(len(trees)))
                for j in order:
                    c, w = _ask(procs[j], query)
                    cpu[j].append(c)
                    wall[j].append(w)
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()
    return {
        str(tree): {
            "cpu_p50": percentile(cpu[j], 0.5),
            "cpu_p95": percentile(cpu[j], 0.95),
            "cpu_mean": sum(cpu[j]) / len(cpu[j]),
            "wall_p50": percentile(wall[j], 0.5),
            "wall_p95": percentile(wall[j], 0.95),
            "n": len(cpu[j]),
        }
        for j, tree in enumerate(trees)
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="kept by search_bench --keep")
    parser.add_argument("--size", type=int, required=True, help="passages; 10227 for the BBC")
    parser.add_argument("--kind", default="typo", help="clean, typo, wordform, wordform_typo")
    parser.add_argument("--before", type=Path, required=True, help="a tree of the old code")
    parser.add_argument("--after", type=Path, default=Path("."), help="a tree of the new code")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    found = run(args.workdir, args.size, args.kind, [args.before, args.after], args.rounds)
    print(
        f"| {args.size:,} passages, {args.kind} | CPU p50 ms | CPU p95 ms | CPU mean ms "
        "| wall p50 ms | wall p95 ms | calls |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, tree in (("before", args.before), ("after", args.after)):
        m = found[str(tree)]
        print(
            f"| {name} ({tree}) | {m['cpu_p50']:.2f} | {m['cpu_p95']:.2f} | {m['cpu_mean']:.2f} "
            f"| {m['wall_p50']:.2f} | {m['wall_p95']:.2f} | {int(m['n'])} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
