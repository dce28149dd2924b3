"""Smoke run of benchmarks/story_bench.py on its labelled set: every row and column, and the
issue's targets where they hold (see docs/benchmarks.md for the numbers and what misses)."""

from __future__ import annotations

import pytest

from benchmarks import story_bench


@pytest.fixture(scope="module")
def rows():
    out = {}
    for part in story_bench.load(story_bench.DATA):
        for method, grouping in (
            ("ours", story_bench.ours_grouping()),
            ("baseline", story_bench.baseline_grouping(story_bench.BASELINES["tfidf@0.40"])),
        ):
            digest, seconds = story_bench.digest_of(part, grouping)
            out[(part.name, method)] = story_bench.evaluate(part, digest, seconds)
    return out


def test_bcubed_counts_what_it_should():
    event_of = {"a": "x", "b": "x", "c": "y"}
    assert story_bench.bcubed([["a", "b"], ["c"]], event_of) == (1.0, 1.0, 1.0)
    p, r, _ = story_bench.bcubed([["a"], ["b"], ["c"]], event_of)
    assert p == 1.0 and r == pytest.approx(2 / 3)
    p, r, _ = story_bench.bcubed([["a", "b", "c"]], event_of)
    assert r == 1.0 and p == pytest.approx(5 / 9)


def test_ours_meets_the_grouping_targets_and_beats_the_baseline(rows):
    for part in ("fit", "held-out"):
        ours, base = rows[(part, "ours")], rows[(part, "baseline")]
        assert ours.f1 >= 0.90 and ours.mixed == 0, (part, ours)
        assert ours.f1 > base.f1
        assert ours.repeats == 0 and ours.stale == 0 and ours.comment_headlines == 0
        assert ours.invented == 0
        assert ours.found >= 3 and ours.labelled == 4


def test_table_prints_every_row(rows, capsys):
    assert story_bench.main([]) == 0
    out = capsys.readouterr().out
    for name in ("ours", *story_bench.BASELINES):
        assert out.count(f" {name} ") == len(story_bench.PARTS)
    assert "B3 F1" in out and "differ found" in out


def test_bad_data_folder_is_one_line(tmp_path, capsys):
    assert story_bench.main([str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
