"""The query path's shortcuts give the answers of the long way (issue 9, query side): a word
allowed two typos first stands for the words one typo away, and for all within two when that
finds nothing; words and their forms are found in ASCII text without tokenizing it; highlighting
marks what matched."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import archive_of

from bot.archive import Archive
from bot.search import _Words
from bot.text import iter_tokens, stem, tokens, word_spans

ARTICLES = {
    "a_budget.txt": "Budget\n\nThe council commissioned a study of the budget.\n",
    "b_harbour.txt": "Harbour\n\nThe harbour commissioner resigned on Monday.\n",
    "c_mines.txt": "Mines\n\nThe mines reopened; the miners and the mimes cheered the mine.\n",
}

TEXTS = [
    "The council's plan, the councils' plans and a council-run port.",
    "Under_scores join_words; _council_ stays one token.",
    "A " + "x" * 45 + " run, then xx and " + "y" * 40 + ".",
    "Sávaré met the council in Kraków; İstanbul sent 2,700 workers.",
    "Fees jumped 500% to £42bn ($7.6m) and 4.2% on 1,5 days.",
    "ATTACKED, attacks; Attack! attacking (attacker) re-attack.",
    "",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    a = archive_of(tmp_path_factory.mktemp("query_path"), ARTICLES)
    yield a
    a.close()


def names(archive: Archive, query: str) -> list[str]:
    return [Path(h.article.path).name for h in archive.search(query, limit=10).hits]


def test_a_two_typo_word_stands_for_the_closest_words_first(archive: Archive) -> None:
    # "commisioned" is one typo from "commissioned" and two from "commissioner".
    assert names(archive, "commisioned") == ["a_budget.txt"]


def test_the_two_typo_words_when_the_closest_find_nothing(archive: Archive) -> None:
    # No passage has "commissioned" and "harbour": the words two typos away are asked for.
    assert names(archive, "commisioned harbour") == ["b_harbour.txt"]


def test_typo_neighbours_are_marked_only_where_the_word_is_not(archive: Archive) -> None:
    hit = archive.search("mines").hits[0]
    marked = {hit.text[s:e] for s, e in hit.spans}
    assert marked == {"mines", "mine"}  # its forms; not "miners" or "mimes" (one typo away)


@pytest.mark.parametrize("text", TEXTS)
def test_words_and_forms_without_tokenizing_are_the_tokens_answers(text: str) -> None:
    found = tokens(text)
    probes = {*found, "council", "councils", "attack", "xx", "x" * 39, "savare", "plan", "s"}
    for word in probes:
        forms = sorted(
            t for t in dict.fromkeys(found) if t[:1] == word[:1] and stem(t) == stem(word)
        )
        assert (word in _Words(text)) == (word in found), word
        assert sorted(_Words(text).forms(word)) == forms, word


@pytest.mark.parametrize("text", TEXTS)
def test_word_spans_are_the_tokens_spans(text: str) -> None:
    all_tokens = {t for _, _, t in iter_tokens(text)}
    for wanted in ({"council", "attack", "attacks"}, {"2700", "42bn", "council"}, all_tokens):
        expected = tuple((s, e) for s, e, t in iter_tokens(text) if t in wanted)
        assert word_spans(text, wanted) == expected
