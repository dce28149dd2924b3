"""Which words a typo query matches in the index, checked against edit distances word by word.

The vocabulary splits typo matching into cheaper parts (first-character fields and a "tail"
field; see ``bot.vocabulary``). Here every word of a small, crowded vocabulary is its own
passage, and a query word must find every word within its typo budget (OSA distance: a swap of
neighbours is one typo) and no word beyond it (Damerau-Levenshtein, which also lets a swapped
pair be edited again).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA, DamerauLevenshtein

from bot.index import PassageIndex, WordQuery
from bot.text import edit_budget, stem

ALPHABET = "abcdes"  # few letters, so that many words are a typo or two apart


def _vocabulary() -> list[str]:
    """Random words, each with a few variants one to three edits away."""
    rng = random.Random(11)
    words: set[str] = set()
    while len(words) < 600:
        base = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 12)))
        words.add(base)
        words.update(edited(rng, base, rng.randint(1, 3)) for _ in range(3))
    words.discard("")
    return sorted(words)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> PassageIndex:
    index = PassageIndex(Path(tmp_path_factory.mktemp("typo-index")))
    writer = index.writer()
    rows = ((i, i, word, "", "", 0) for i, word in enumerate(VOCABULARY))
    index.replace_articles(writer, (), rows)
    index.commit(writer)
    index.refresh()
    return index


def kind(query: str, word: str) -> str | None:
    """How word is within query's typo budget (None: it is not)."""
    budget = edit_budget(query)
    d = OSA.distance(query, word)
    if d > budget:
        return None
    if d == 0:
        return "exact"
    return f"{d} typo{'s' * (d > 1)}, {'same' if word[0] == query[0] else 'other'} first letter"


def edited(rng: random.Random, word: str, edits: int) -> str:
    for _ in range(edits):
        i = rng.randrange(len(word))
        op = rng.randrange(4)
        c = rng.choice(ALPHABET)
        if op == 0:
            word = word[:i] + c + word[i + 1 :]
        elif op == 1:
            word = word[:i] + c + word[i:]
        elif op == 2 and len(word) > 1:
            word = word[:i] + word[i + 1 :]
        elif i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word


VOCABULARY = _vocabulary()


@given(seed=st.integers(0, 2**32 - 1), edits=st.integers(0, 3))
@settings(max_examples=300, deadline=None)
def test_typo_query_matches_exactly_the_allowed_words(
    index: PassageIndex, seed: int, edits: int
) -> None:
    rng = random.Random(seed)
    query = edited(rng, rng.choice(VOCABULARY), edits)
    budget = edit_budget(query)
    hits = index.search_most_words([WordQuery(query, budget)], limit=len(VOCABULARY))
    found = {VOCABULARY[pid] for pid, _, _ in hits}
    assert {w for w in VOCABULARY if kind(query, w)} <= found
    # beyond the budget only another form of the word (bot.text.stem: "abcs" finds "abc")
    assert all(
        DamerauLevenshtein.distance(query, w) <= budget or stem(w) == stem(query) for w in found
    )


def test_the_rule_is_not_vacuous() -> None:
    """The crowded vocabulary gives the property above typo matches of every kind to check."""
    kinds: dict[str, int] = {}
    rng = random.Random(3)
    for _ in range(300):
        query = edited(rng, rng.choice(VOCABULARY), rng.randint(0, 3))
        for word in VOCABULARY:
            k = kind(query, word)
            if k:
                kinds[k] = kinds.get(k, 0) + 1
    assert len(kinds) == 5 and min(kinds.values()) >= 10, kinds


def test_every_typo_match_scores_the_same(tmp_path: Path) -> None:
    """A word one typo away scores the same whether its first letter is the query's or not, so
    "hause" does not prefer "cause" (found through the tail field) over "house"."""
    index = PassageIndex(tmp_path / "index")
    writer = index.writer()
    words = ["house", "cause"] + [f"filler{i}" for i in range(50)]
    index.replace_articles(writer, (), ((i, i, word, "", "", 0) for i, word in enumerate(words)))
    index.commit(writer)
    index.refresh()
    scores = dict(index.search([WordQuery("hause", 1)], limit=10))
    assert set(scores) == {0, 1} and scores[0] == scores[1]
