"""The CLI side of issue 9, run as a real subprocess: query syntax, --sort, related, the JSON
shape and skipped-file warnings that are repeated only when the file changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_cli import newsbot

from bot.cli.parser import OPTIONS_WITH_VALUES, build_parser

ARTICLES = {
    "old.txt": "Harbour strike\n\nDock workers in Port Vesna went on strike over pay.\n\n"
    "author: Ada Lovel\nsource: Coast Wire\nurl: https://news.test/strike\ndate: 2021-04-01\n",
    "new.txt": "Harbour deal\n\nDock workers in Port Vesna accepted the pay deal and the strike"
    " ended.\n\nauthor: Ben Grant\ndate: 2024-02-01\n",
    "mercs.txt": "Mercenaries in Port Vesna\n\nMercenaries guarded the docks of Port Vesna "
    "during the strike, dock workers said.\n\ndate: 2023-01-01\n",
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def search_json(home: Path, *args: str) -> dict:
    out = newsbot(home, "--articles", "news", "search", "--json", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def titles(doc: dict) -> list[str]:
    return [h["title"] for h in doc["hits"]]


def test_a_query_may_start_with_a_dash(home: Path) -> None:
    dashed = search_json(home, "--", "-mercenary dock workers")
    trailing = search_json(home, "dock workers -mercenaries")
    assert titles(dashed) == titles(trailing) and set(titles(dashed)) == {
        "Harbour strike",
        "Harbour deal",
    }


def test_a_query_needs_no_quotes(home: Path) -> None:
    quoted = titles(search_json(home, "dock workers -mercenaries"))
    assert titles(search_json(home, "dock", "workers", "-mercenaries")) == quoted
    assert titles(search_json(home, "-mercenaries", "dock", "workers")) == quoted
    # Words after an option are still the query's.
    assert titles(search_json(home, "dock", "--limit", "1", "workers")) == ["Harbour strike"]
    # "-vesna" and "-hollande" are words to leave out, not -v or -h with something after it.
    assert search_json(home, "dock", "workers", "-vesna")["hits"] == []
    assert titles(search_json(home, "strike", "-hollande")) == titles(search_json(home, "strike"))
    typo = newsbot(home, "--articles", "news", "search", "dock", "--limt", "1")
    assert typo.returncode == 2 and "unrecognized arguments: --limt" in typo.stderr


def test_every_option_that_takes_a_value_is_known_to_the_query_reader() -> None:
    # The word after such an option is its value, never a word to leave out.
    parser = build_parser()
    search = parser._subparsers._group_actions[0].choices["search"]
    taking = {
        option
        for action in [*parser._actions, *search._actions]
        if action.nargs is None  # one value (flags take none)
        for option in action.option_strings
        if option.startswith("--")
    }
    assert taking == OPTIONS_WITH_VALUES


def test_sort_newest_and_relevance(home: Path) -> None:
    newest = search_json(home, "dock workers", "--sort", "newest")
    assert titles(newest) == ["Harbour deal", "Mercenaries in Port Vesna", "Harbour strike"]
    assert [h["published"][:10] for h in newest["hits"]] == [
        "2024-02-01",
        "2023-01-01",
        "2021-04-01",
    ]
    relevance = search_json(home, "dock workers")
    assert titles(relevance)[0] == "Harbour strike"  # the shortest passage with both words
    bad = newsbot(home, "--articles", "news", "search", "dock", "--sort", "oldest")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_json_hits_carry_url_and_source(home: Path) -> None:
    hits = {h["title"]: h for h in search_json(home, "dock workers")["hits"]}
    assert hits["Harbour strike"]["url"] == "https://news.test/strike"
    assert hits["Harbour strike"]["source"] == "Coast Wire"
    assert hits["Harbour deal"]["url"] is None and hits["Harbour deal"]["source"] is None


def test_filters_from_the_command_line(home: Path) -> None:
    assert titles(search_json(home, "dock by:grant")) == ["Harbour deal"]
    assert titles(search_json(home, '"pay deal"')) == ["Harbour deal"]
    assert set(titles(search_json(home, "strike after:2022-01-01"))) == {
        "Harbour deal",
        "Mercenaries in Port Vesna",
    }
    out = newsbot(home, "--articles", "news", "search", "strike after:2022-02-30")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        "newsbot: after: needs a date written YYYY-MM-DD, e.g. after:2023-09-01.\n"
    )


def test_related_prints_the_same_hit_shape_as_search(home: Path) -> None:
    out = newsbot(home, "--articles", "news", "related", "news/old.txt", "1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["of"] == {"path": "news/old.txt", "paragraph": 0, "title": "Harbour strike"}
    assert titles(doc)[0] == "Harbour deal" and "Harbour strike" not in titles(doc)
    search_hit = search_json(home, "dock")["hits"][0]
    assert set(doc["hits"][0]) == set(search_hit)
    text = newsbot(home, "--articles", "news", "related", "news/old.txt", "1")
    assert text.returncode == 0 and "1. Harbour deal" in text.stdout
    assert "**Dock**" in text.stdout or "**dock**" in text.stdout.lower()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["news/none.txt", "1"], "newsbot: no article news/none.txt in the archive"),
        (["news/old.txt", "9"], "newsbot: news/old.txt has paragraphs 1 to 1"),
        (["news/old.txt", "0"], "newsbot: news/old.txt has paragraphs 1 to 1"),
    ],
)
def test_related_errors_are_one_line(home: Path, args: list[str], message: str) -> None:
    newsbot(home, "--articles", "news", "ingest")
    out = newsbot(home, "--articles", "news", "related", *args)
    assert out.returncode == 1 and out.stderr.startswith(message)
    assert out.stderr.count("\n") == 1


def test_skipped_files_are_reported_again_only_when_they_change(home: Path) -> None:
    bad = home / "news" / "bad.txt"
    bad.write_bytes(b"\x00\x01binary\x00")

    def warned() -> bool:
        out = newsbot(home, "--articles", "news", "search", "dock")
        assert out.returncode == 0, out.stderr
        return "skipped news/bad.txt: binary file" in out.stderr

    assert warned()
    assert not warned()  # unchanged since: not read, not reported
    assert not warned()
    bad.write_bytes(b"\x00\x02still binary\x00")
    os.utime(bad, ns=(1, 1))
    assert warned()  # it changed
    assert not warned()
    bad.write_text("Fixed\n\nNow a dock story.\n", encoding="utf-8")
    out = newsbot(home, "--articles", "news", "search", "dock", "--json")
    assert "skipped news" not in out.stderr and "Fixed" in titles(json.loads(out.stdout))
    # an explicit ingest still names every file it cannot read
    bad.write_bytes(b"\x00")
    assert "skipped news/bad.txt" in newsbot(home, "--articles", "news", "ingest").stdout
    assert "skipped news/bad.txt" in newsbot(home, "--articles", "news", "ingest").stdout
