"""One build of ``benchmarks.search_bench`` with the CPU time of each of its threads.

    .venv/bin/python -m benchmarks.build_threads ours CORPUS STATE
    .venv/bin/python -m benchmarks.build_threads tantivy CORPUS STATE

Prints the build worker's JSON line (``--worker build``), then the CPU seconds of every thread
by name: "python" is the interpreter's main thread (reading, parsing, SQLite, tokenizing, the
documents), "thrd-tantivy-in..." tantivy's indexing threads. Threads are read from
``/proc/self/task`` five times a second, so a thread that ends between two looks loses its last
0.2 s (tantivy's merge threads, which hardly work in a first build). Linux only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from benchmarks.search_bench import cpu_seconds, proc_stat, worker_build


def thread_cpu() -> dict[str, tuple[str, float]]:
    """Thread id -> (name, user + system CPU seconds) for this process's live threads."""
    found = {}
    for tid in os.listdir("/proc/self/task"):
        stat = proc_stat(f"/proc/self/task/{tid}/stat")
        if stat is not None:
            found[tid] = (stat[0], cpu_seconds(stat[1]))
    return found


def main(argv: list[str]) -> int:
    approach, corpus, state = argv
    seen: dict[str, tuple[str, float]] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            seen.update(thread_cpu())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = worker_build(approach, Path(corpus), Path(state))
    done.set()
    watcher.join()
    seen.update(thread_cpu())
    by_name: dict[str, float] = {}
    for name, cpu in seen.values():
        by_name[name] = by_name.get(name, 0.0) + cpu
    print(json.dumps(result))
    print(json.dumps({k: round(v, 1) for k, v in sorted(by_name.items()) if v >= 0.1}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
