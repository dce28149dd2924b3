"""A small run of benchmarks/slack_fuzz.py: it runs, and prints clean counts."""

from __future__ import annotations

from benchmarks import slack_fuzz


def test_fuzz_benchmark_smoke(capsys):
    rows = slack_fuzz.run(http=20, socket=10)
    assert rows["HTTP"]["requests"] == 20 and rows["Socket Mode"]["requests"] == 10
    for row in rows.values():
        assert all(row[c] == 0 for c in slack_fuzz.BAD) and row["alive after"] == 1
    table = capsys.readouterr().out
    assert "injections" in table and "Socket Mode" in table
