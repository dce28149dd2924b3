"""Smoke run of benchmarks/follow_bench.py at a small size: both methods, and the percolator
finds every follow's source article (a follow taken from a new article's headline)."""

from __future__ import annotations

from benchmarks import follow_bench


def test_follow_bench_runs_both_methods_and_misses_nothing(capsys) -> None:
    rows = follow_bench.run(120, 30, 20, 10, vocabulary=5_000)
    ours, naive = rows
    assert ours["method"] == "percolator" and naive["method"].startswith("naive")
    assert ours["follows"] == 120 and ours["new"] == 30 and naive["follows"] == 10
    assert ours["matches"] > 0 and ours["dms"] > 0
    assert ours["missed"] == 0
    follow_bench.print_table(rows, 120)
    assert "percolator" in capsys.readouterr().out
