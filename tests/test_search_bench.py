"""Smoke run of benchmarks/search_bench.py: tiny corpora, few queries, every row and column.

Speed is not asserted here (that is what the benchmark prints); this checks that the benchmark
runs end to end through the real ingest path and that its recall numbers make sense.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rapidfuzz.distance import OSA

from benchmarks import bbc_corpus, build_threads, name_typos, search_bench, search_interleaved
from benchmarks.corpus import add_typos, fold, make_query, typo_budget, word_forms, write_corpus


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("search-bench")


@pytest.fixture(scope="module")
def report(workdir: Path) -> search_bench.Report:
    return search_bench.run(
        [600, 2000],
        workdir,
        queries=20,
        naive_queries=5,
        naive_max=1000,
        ingest_articles=30,
        ingest_words=400,
        vocabulary=20_000,
        command="pytest smoke",
        keep=True,
    )


def _rows(table: str) -> list[list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_table_has_every_approach_and_size(report: search_bench.Report) -> None:
    rows = _rows(search_bench.format_table(report))
    assert len(rows) == 10  # 5 approaches x 2 sizes
    assert {r[0] for r in rows} == set(search_bench.LABELS.values())
    assert {r[1] for r in rows} == {"600", "2,000"}
    for row in rows:
        assert len(row) == 13
        if row[0] == search_bench.LABELS["naive"] and row[1] == "2,000":
            assert "skipped above 1,000 passages" in row[11]
            continue
        for cell in row[2:11]:
            float(cell)  # every measured column holds a number
        assert re.fullmatch(r"[\d.]+x / [\d.]+x", row[11])


def test_recall_makes_sense(report: search_bench.Report) -> None:
    got = {(r.approach, r.size): r.query for r in report.rows if not r.skipped}
    for size in (600, 2000):
        ours, fts5, peer = got["ours", size], got["fts5", size], got["tantivy", size]
        # Every query is made of words of its target paragraph, so exact engines find it ...
        assert ours["clean"]["recall"] >= 0.9
        assert fts5["clean"]["recall"] >= 0.9
        assert peer["clean"]["recall"] >= 0.9
        # ... typos defeat exact FTS5, not the typo-tolerant engines.
        assert ours["typo"]["recall"] >= 0.8
        assert fts5["typo"]["recall"] < ours["typo"]["recall"]
        assert ours["queries"] == 20
        # One keyword in another form: the stemming engines find it, the plain fuzzy peer less.
        stem = got["tantivy_stem", size]
        assert ours["wordform"]["recall"] >= 0.9 and stem["wordform"]["recall"] >= 0.9
        assert ours["wordform"]["n"] >= 15 and ours["wordform_typo"]["n"] >= 15
        assert 0 <= ours["wordform"]["r1"] <= ours["wordform"]["recall"]
    assert got["naive", 600]["queries"] == 5


def test_quality_table_has_r1_and_r5_per_query_set(report: search_bench.Report) -> None:
    rows = _rows(search_bench.format_quality(report))
    assert len(rows) == 9  # the naive scan is skipped at 2,000
    for row in rows:
        assert len(row) == 2 + 2 * len(search_bench.KINDS)
        for cell in row[2:]:
            assert 0 <= float(cell) <= 1
    assert "word-form R@1" in search_bench.format_targets(report)


def test_copies_and_the_consistent_subset_are_judged_the_same_for_every_approach(
    report: search_bench.Report,
) -> None:
    rows = _rows(search_bench.format_judged(report))
    assert len(rows) == 9
    for r in report.rows:
        if r.skipped:
            continue
        for kind in search_bench.KINDS:
            q = r.query[kind]
            # A copy of the target counts as the target: never fewer hits than the strict count.
            assert q["same"]["n"] == q["n"] and q["same"]["r1"] >= q["r1"]
            assert q["same"]["recall"] >= q["recall"]
        wf = r.query["wordform"]
        assert wf["identifying"]["n"] <= wf["consistent"]["n"] <= wf["n"]
    assert "consistent" in search_bench.format_subsets(report)
    assert "identifying" in search_bench.format_subsets(report)


PASSAGES = [
    (0, "Rebels attacked the northern town on Monday."),
    (1, "Rebels  attacked the northern town\ton Monday."),  # the same text: a copy
    (2, "The rebels attack towns in the north."),
    (3, "Prices of export goods rose."),
    (4, "Exports rose in November across the union."),
    (5, "Export levels to the Union fell in November, it's said."),
    (6, "Rebels attacked the northern towns on Monday."),  # near, not the same
]
QUERIES = [
    # "attack" and "rebels" as typed stand in passage 2: another passage is the exact answer.
    {"target": 0, "clean": "rebels attacked", "wordform": "rebels attack"},
    # passage 5 has "export", "november" and "union" (capitalised, with a comma after it)
    {"target": 4, "clean": "exports november union", "wordform": "export november union"},
    # nobody else has "prices" and "exports": consistent
    {"target": 3, "clean": "prices export", "wordform": "prices exports"},
    {"target": 5, "clean": "levels union"},  # no word-form query
]


def test_a_copy_of_the_target_counts_and_ambiguous_word_form_queries_are_flagged() -> None:
    judged = search_bench.judge(lambda: iter(PASSAGES), QUERIES)
    assert [j["same"] for j in judged] == [[0, 1], [4], [3], [5]]
    assert [j["consistent"] for j in judged] == [False, False, True, None]
    assert search_bench.exact_words("it's 2,700 (Union),") >= {"it's", "it", "s", "2,700", "union"}
    hits = [[1, 0, 2], [5, 4], [3], None]
    assert search_bench.score(hits, judged) == {"n": 3, "r1": 0.667, "recall": 1.0, "changed": 1}
    assert search_bench.score(hits, judged, "consistent") == {
        "n": 1,
        "r1": 1.0,
        "recall": 1.0,
        "changed": 0,
    }
    # A near copy (another word form in it) is not the target.
    assert search_bench.score([[6, 0], None, None, None], judged)["r1"] == 0.0


def test_a_word_form_query_identifies_its_target_only_when_no_other_passage_has_every_stem() -> (
    None
):
    queries = [
        # No other passage has "rebel" as typed, but 0, 1 and 6 have every stem (rebel, attack,
        # town): consistent, not identifying.
        {"target": 2, "clean": "rebels attack towns", "wordform": "rebel attack towns"},
        # Only passage 3 has "price" in any form.
        {"target": 3, "clean": "prices export", "wordform": "prices exports"},
        # Passage 5 has "Export" and "Union" (capitalised, a comma after it) and "November".
        {"target": 4, "clean": "exports november union", "wordform": "exported november unions"},
    ]
    judged = search_bench.judge(lambda: iter(PASSAGES), queries)
    assert [j["consistent"] for j in judged] == [True, True, True]
    assert [j["identifying"] for j in judged] == [False, True, False]
    hits = [[0, 2], [3], [4]]
    assert search_bench.score(hits, judged, "consistent")["r1"] == 0.667
    assert search_bench.score(hits, judged, "identifying") == {
        "n": 1,
        "r1": 1.0,
        "recall": 1.0,
        "changed": 0,
    }


def test_an_unambiguous_word_form_query_avoids_a_form_with_an_exact_rival() -> None:
    forms = word_forms(["attack", "attacked", "attacks", "economy", "economies", "region"])
    vocab = SimpleNamespace(function=frozenset({"the", "of"}), rank={})
    text = "Rebels attacked the economy of the region"

    def made(rival):  # type: ignore[no-untyped-def]
        return make_query(random.Random(1), vocab, 7, text, forms, rival)  # type: ignore[arg-type]

    plain = made(None)
    assert made(lambda words: False) == plain  # no rival anywhere: the very same queries
    typed = set(plain.wordform.split()) - set(plain.clean.split())
    other = made(lambda words: bool(typed & set(words)))  # the drawn form has a rival
    assert other.clean == plain.clean and other.typo == plain.typo
    assert other.wordform != plain.wordform and not typed & set(other.wordform.split())
    # Every form has a rival: the drawn one is kept (the consistent subset reports it).
    assert made(lambda words: True) == plain
    # The BBC corpus's rival check is the judging rule: copies of the target are no rivals.
    rival = bbc_corpus._rivals([t for _, t in PASSAGES])
    assert rival(0)(["rebels", "attack"]) and not rival(0)(["rebels", "attacked", "town"])
    assert rival(4)(["export", "november", "union"]) and not rival(3)(["prices", "exports"])


def test_word_form_queries_change_one_keyword_into_another_regular_form() -> None:
    forms = word_forms(["attack", "attacked", "attacks", "economy", "economies", "attic", "Paris"])
    assert forms["attack"] == ["attacked", "attacks"] and forms["economies"] == ["economy"]
    assert "attic" not in forms and "paris" not in forms
    query = make_query(
        random.Random(1),
        SimpleNamespace(function=frozenset(), rank={}),  # type: ignore[arg-type]
        7,
        "Rebels attacked the economy of the region",
        forms,
    )
    assert query.wordform and query.wordform != query.clean
    changed = [
        (a, b) for a, b in zip(query.clean.split(), query.wordform.split(), strict=True) if a != b
    ]
    assert len(changed) == 1 and changed[0][1] in forms[changed[0][0]]
    assert changed[0][1] not in query.clean.split()


def test_breakdown_and_ingest_are_reported(report: search_bench.Report) -> None:
    text = search_bench.format_report(report)
    assert "Command: `pytest smoke`" in text
    breakdown = _rows(search_bench.format_breakdown(report))
    assert [(r[0], r[1]) for r in breakdown] == [
        ("600", "clean"),
        ("600", "typo"),
        ("2,000", "clean"),
        ("2,000", "typo"),
    ]
    ingest = report.ingest
    assert ingest is not None
    assert ingest["added"] == 30 and ingest["again_unchanged"] == 30
    assert ingest["words"] > 30 * 300
    assert "Ingest through Archive.ingest: 30 articles" in text


def test_typos_respect_the_budget() -> None:
    rng = random.Random(3)
    words = ["mali", "wagner", "kremlin", "bandiagara", "mercenaries", "2,700", "sávaré"]
    for _ in range(200):
        for word in words:
            typed, edits = add_typos(rng, word)
            budget = typo_budget(word)
            if budget == 0:
                assert typed == word and edits == 0
            else:
                assert 1 <= edits <= budget
                assert edits <= typo_budget(typed)  # the engine only sees the typed word
                assert OSA.distance(word, typed) == edits
                assert fold(typed) != fold(word)


def test_corpus_is_deterministic_and_queries_come_from_their_target(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_corpus(a, 300, seed=5, queries=10, vocabulary=5000)
    write_corpus(b, 300, seed=5, queries=10, vocabulary=5000)
    assert (a / "queries.json").read_text() == (b / "queries.json").read_text()
    assert (a / "passages.tsv").read_text() == (b / "passages.tsv").read_text()
    passages = dict(line.split("\t", 1) for line in (a / "passages.tsv").read_text().splitlines())
    for q in json.loads((a / "queries.json").read_text())["queries"]:
        words = q["clean"].split()
        assert 2 <= len(words) <= 4
        text = fold(passages[str(q["target"])])
        assert all(fold(w) in text for w in words)


def test_interleaved_comparison_runs_on_the_kept_indexes(
    report: search_bench.Report, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        search_interleaved.main(["--workdir", str(workdir), "--size", "600", "--rounds", "1"]) == 0
    )
    rows = _rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["clean", "typo"]
    for row in rows:
        assert all(float(c) >= 0 for c in row[1:5])
        assert row[5].endswith("x") and float(row[6]) >= 0.5  # ours finds most targets


def test_build_threads_reports_each_thread(
    report: search_bench.Report, workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = workdir / "corpus-2000"
    assert build_threads.main(["ours", str(corpus), str(tmp_path / "state")]) == 0
    built, threads = (json.loads(line) for line in capsys.readouterr().out.splitlines()[-2:])
    assert built["added"] > 0 and built["build_s"] > 0 and built["build_cpu_s"] > 0
    # Threads by name with their CPU seconds (a small build's indexer may stay under the 0.1 s
    # shown); here "python" is pytest's own main thread.
    assert threads["python"] > 0 and all(cpu >= 0.1 for cpu in threads.values())


def test_bbc_layout_corpus_and_name_typos_smoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The BBC corpus path, on a folder laid out like the evaluation data but holding articles
    written for this test (the real data is never needed by the tests)."""
    data = tmp_path / "data"
    folder = data / "bbc-news-summary" / "articles" / "politics"
    folder.mkdir(parents=True)
    names = ["Gaddafi", "Kowalski", "Brandt", "Moreno", "Lindqvist", "Okafor"]
    for n in range(24):
        a, b = names[n % 6], names[(n + 1) % 6]
        verb, noun = ("attacked", "economies") if n % 2 else ("attacks", "economy")
        text = (
            f"Talks number {n} resume\n\nLeaders met on Monday as {a} {verb} the plan.\n"
            f"Officials said the {noun} of {b} and {a} regions grew.\n"
        )
        (folder / f"{n:03d}.txt").write_text(text, encoding="utf-8")
    (folder / "100.txt").write_text((folder / "000.txt").read_text())  # a duplicate: left out
    report = search_bench.run(
        [],
        tmp_path / "work",
        queries=10,
        approaches=["ours", "tantivy_stem"],
        ingest_articles=0,
        bbc=data,
        keep=True,
        command="pytest bbc smoke",
    )
    assert [r.size for r in report.rows] == [48, 48]
    assert "48 (BBC)" in search_bench.format_quality(report)
    assert report.rows[0].query["wordform"]["n"] >= 5
    name_typos.main([str(tmp_path / "work"), "--names", "4"])
    out = capsys.readouterr().out
    assert "| capitalised (4 names, 2 typos) |" in out and "| lower-case (4 names" in out


def test_worker_index_benchmark_smoke(capsys, pg_database):
    """benchmarks/worker_index.py on a small corpus: same hits on both back-ends, lag 0 after."""
    from benchmarks import worker_index

    result = worker_index.run(600, 800, pg_database, rounds=1)
    assert result["lag_after"] == 0 and result["catch_up_passages"] >= 800
    agree, total = map(int, result["same_hits"].split("/"))
    assert agree == total
    assert "worker catch-up:" in capsys.readouterr().out
