"""The archive's distinct words, for typo matching and word forms: a small tantivy index of one
document a word.

A fuzzy term query walks a term dictionary with a Levenshtein automaton, and that walk is most of
a typo search's time. Walking the passage index's own dictionary would be slower (one field holds
every word) and indexing each passage's words a second time, split for faster walks, made the
index build three times slower. So the walks run here, over each distinct word once: one field
per first character (a query word walks only the words that start as it does), a ``tail`` field
(each word without its first letter: words whose first letter differs are found through it, see
``_first_letter_typos``), and the word itself, stored. ``expand`` returns the words within a typo
budget, with their edit distance; the passage index then asks for them as exact terms, so typo
matches are scored by BM25 like any word. Each word's English stem is a field too: ``forms``
returns the words of a stem (attack: attacked, attacking, attacks), which the passage index asks
for the same way.

Derived data like the passage index: words are added before the passage index commits, so it
always holds every indexed word (and maybe some no passage has any more: harmless).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy
from rapidfuzz.distance import OSA

from bot.text import ONE_TYPO_FROM, stems

_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
_OTHER = "typo_other"
_TAIL2 = "tail2"  # each word without its first two letters
_WORD = "word"
# A word too short to be a typo's correction: kept for its stem only (its, it: forms of one word).
_SHORT = "short"
_STEM = "stem"  # the word's English stem: the words of one stem are one word's forms
MAX_FORMS = 64  # forms of one stem a query word stands for (most stems have a handful)
MIN_LEN = ONE_TYPO_FROM - 1  # the shortest word a typo query word can match
MAX_EXPANSIONS = 300  # words one query word may stand for (a 4-letter word can have many)
_WRITER_HEAP = 64 * 1024 * 1024


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field(_WORD, stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field(_SHORT, stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field(_STEM, stored=False, tokenizer_name="raw", index_option="basic")
    fields = [_field(c) for c in _FIRST] + [_tail_field(c) for c in _FIRST]
    for field in (*fields, _OTHER, _tail_field(""), _TAIL2):
        b.add_text_field(field, stored=False, tokenizer_name="raw", index_option="basic")
    return b.build()


def _field(token: str) -> str:
    """The field of the words that start as token does."""
    return f"typo_{token[0]}" if token[:1] and token[0] in _FIRST else _OTHER


def _tail_field(tail: str) -> str:
    """The field of the words whose tail (all but the first letter) starts as ``tail`` does."""
    return f"tail_{tail[0]}" if tail[:1] and tail[0] in _FIRST else "tail_other"


def _word_field(word: str) -> str:
    """The field a known word is found in (``_SHORT`` for one too short for typo walks)."""
    return _WORD if len(word) >= MIN_LEN else _SHORT


def _swap_first_two(word: str) -> str:
    return word[1] + word[0] + word[2:]


class Vocabulary:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, str(path), reuse=True)
        self._lock = threading.Lock()
        self._reloaded = 0.0

    # -- writing -------------------------------------------------------------------------------
    def add(self, words: Iterable[str]) -> int:
        """Add the words not yet known (call while holding the passage index's writer)."""
        searcher = self._searcher(fresh=True)
        first = searcher.num_docs == 0  # a first build: every word is new, no need to look
        new = sorted(w for w in set(words) if first or not searcher.doc_freq(_word_field(w), w))
        if not new:
            return 0
        writer = self.index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        try:
            for w, s in zip(new, stems(new), strict=True):
                if len(w) < MIN_LEN:  # no typo walk finds it: no walk fields
                    fields = {_SHORT: w, _STEM: s}
                else:
                    fields = {
                        _WORD: w,
                        _STEM: s,
                        _field(w): w,
                        _tail_field(w[1:]): w[1:],
                        _TAIL2: w[2:],
                    }
                writer.add_document(tantivy.Document(**fields))  # type: ignore[arg-type]
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self._searcher(fresh=True)
        return len(new)

    def clear(self) -> None:
        writer = self.index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        writer.delete_all_documents()
        writer.commit()
        writer.wait_merging_threads()
        self._searcher(fresh=True)

    # -- reading -------------------------------------------------------------------------------
    def _searcher(self, fresh: bool = False) -> tantivy.Searcher:
        now = time.monotonic()
        if fresh or now - self._reloaded > 1.0:
            with self._lock:
                self.index.reload()
                self._reloaded = now
        return self.index.searcher()

    def num_words(self) -> int:
        return self._searcher().num_docs

    def forms(self, stem: str, but: Sequence[str] = ()) -> list[str]:
        """The known words of an English stem (``bot.text.stem``) but ``but``, sorted: a word's
        other forms."""
        searcher = self._searcher()
        words = searcher.doc_freq(_STEM, stem)
        # Most words have no other form: two lookups say so, without a search and its reads.
        if words <= sum(1 for w in but if searcher.doc_freq(_word_field(w), w)):
            return []
        query = tantivy.Query.term_query(self.schema, _STEM, stem)
        hits = searcher.search(query, MAX_FORMS, count=False).hits
        docs = (searcher.doc(address) for _, address in hits)
        found = (d.get_first(_WORD) or d.get_first(_SHORT) for d in docs)
        return sorted(w for w in found if w and w not in but)

    def expand(self, token: str, typos: int) -> list[tuple[str, int]]:
        """(word, edits) for the known words within ``typos`` of token, token itself excluded,
        closest first (edits: OSA distance, a swap of neighbours is one)."""
        searcher = self._searcher()
        should = tantivy.Occur.Should
        parts = [(should, self._fuzzy(_field(token), token, typos))]
        parts += [(should, q) for q in self._first_letter_typos(token, typos)]
        query = tantivy.Query.boolean_query(parts)
        found = []
        for _, address in searcher.search(query, MAX_EXPANSIONS, count=False).hits:
            word = searcher.doc(address)[_WORD][0]
            if word != token:
                found.append((word, min(int(OSA.distance(token, word)), typos)))
        found.sort(key=lambda wd: (wd[1], wd[0]))
        return found

    def _first_letter_typos(self, token: str, typos: int) -> list[tantivy.Query]:
        """Queries for the words within ``typos`` of token whose first letter is not token's.

        Its first letter was replaced (the tail is the rest of token), had a letter typed before
        it (the tail is token), was dropped (the word is the rest of token) or swapped with the
        second letter. With two typos each of those may come with one more typo anywhere (see
        ``_tail_within_one``; a walk of the second letter's field for the swap)."""
        Q, schema = tantivy.Query, self.schema
        rest, swapped = token[1:], _swap_first_two(token)
        term = Q.term_query
        if typos == 1:
            queries = [
                term(schema, _tail_field(rest), rest),
                term(schema, _tail_field(token), token),
                term(schema, _WORD, rest),
            ]
            if swapped != token:
                queries.append(term(schema, _WORD, swapped))
            return queries
        queries = [
            *self._tail_within_one(rest),  # replaced
            *self._tail_within_one(token),  # one typed before it
            # dropped: the word is rest with one typo; its own first letter right, or not
            self._fuzzy(_field(rest), rest, 1),
            term(schema, _WORD, rest[1:]),
            term(schema, _WORD, _swap_first_two(rest)),
        ]
        if len(rest) > 1:
            queries.append(term(schema, _tail_field(rest[1:]), rest[1:]))
        if swapped != token:
            queries.append(self._fuzzy(_field(swapped), swapped, 1))  # swapped
        return queries

    def _tail_within_one(self, text: str) -> list[tantivy.Query]:
        """The words whose tail is within one typo of ``text``: the tails that start as text
        does by a walk of their field (a 36th of them), the others by exact lookups (text's
        first letter replaced, typed before, dropped or swapped with the next)."""
        Q, schema = tantivy.Query, self.schema
        queries = [
            self._fuzzy(_tail_field(text), text, 1),
            Q.term_query(schema, _TAIL2, text[1:]),
            Q.term_query(schema, _TAIL2, text),
        ]
        if len(text) > 1:
            rest = text[1:]
            queries.append(Q.term_query(schema, _tail_field(rest), rest))
            queries.append(Q.term_query(schema, _tail_field(rest), _swap_first_two(text)))
        return queries

    def _fuzzy(self, field: str, token: str, distance: int) -> tantivy.Query:
        return tantivy.Query.fuzzy_term_query(
            self.schema, field, token, distance=distance, transposition_cost_one=True
        )
