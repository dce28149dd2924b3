"""Word forms come from the vocabulary: the body words of one English stem (no stemmed copy of
the body in the index since format v8). A word matches its forms, in and out of filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.index import Filters, PassageIndex, WordQuery
from bot.text import index_text, stem, stem_analyzer

TEXTS = [
    "Mercenaries attacked the colony; the attack's economies and economy attacking colonies.",
    "Gaddafi's forces attack again: 2,700 attacks, £42bn, 4.2% and 60% of Kraków's councils.",
    "Sávaré and Krakow report universities, university, generalization and generalizations.",
    "A ligature \ufdfa folds to words with spaces; ¼ and ⑴ fold to punctuation.",
    "running runs ran runner flies flying fly flew studies studying studied",
    "It said its plan, an ax and an atom, was at hand.",
]
WORDS = sorted({w for t in TEXTS for w in index_text(t).split()})


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> PassageIndex:
    index = PassageIndex(Path(tmp_path_factory.mktemp("forms")))
    writer = index.writer()
    rows = [(i, i, index_text(t), "", "", 0) for i, t in enumerate(TEXTS)]
    index.replace_articles(writer, (), rows)
    index.commit(writer)
    index.refresh()
    return index


def test_the_forms_of_a_word_are_the_indexed_words_of_its_stem(index: PassageIndex) -> None:
    analyzer = stem_analyzer()
    checked = 0
    for word in WORDS:
        same_stem = {w for w in WORDS if analyzer.analyze(w) == [stem(word)]}
        assert set(index.forms(word)) == same_stem - {word}, word
        checked += 1
    assert checked > 40
    assert set(index.forms("attack")) == {"attacked", "attacking", "attacks"}
    assert set(index.forms("economies")) == {"economy"}
    assert set(index.forms("its")) == {"it"}  # a word too short for typos is a form too
    # A token that folding split with a space is several words in the index and the vocabulary.
    assert index.vocab.num_words() == len(WORDS)
    assert index.expand(WordQuery("atacks", 1)) == (("attacks", 1),)
    # Short words are no typo's correction: "ax" is not offered for "axe" (one letter off).
    assert index.expand(WordQuery("atx", 1)) == ()


def test_a_word_finds_its_forms_and_its_exact_form_first(index: PassageIndex) -> None:
    assert {p for p, _ in index.search([WordQuery("colony", 0)], limit=5)} == {0}
    assert {p for p, _ in index.search([WordQuery("attacked", 0)], limit=5)} == {0, 1}
    # Both have "attack" forms; the passage with "attacked" as typed ranks first.
    assert index.search([WordQuery("attacked", 0)], limit=5)[0][0] == 0
    assert index.knows("generalize") and not index.knows("zebra")


def test_an_excluded_word_excludes_its_forms(index: PassageIndex) -> None:
    found = index.search([WordQuery("and", 0)], limit=5, filters=Filters(excluded=("attack",)))
    assert {p for p, _ in found} == {2, 3, 5}


def test_related_passages_share_a_stem_in_any_form(index: PassageIndex) -> None:
    found = index.related([("attacks", 1.0)], exclude_article=1, limit=5)
    assert [p for p, _ in found] == [0]
