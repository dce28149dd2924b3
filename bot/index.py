"""The passage index: tantivy (an inverted index ranked by BM25, with fuzzy term queries).

It is derived data: every document is a passage from the SQLite store, keyed by passage id, and
the whole index can be rebuilt from the store. Text arrives already folded and tokenized by
``bot.text`` so that indexing and querying agree on what a word is.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tantivy

from bot.text import stem
from bot.vocabulary import Vocabulary

_SCHEMA_VERSION = "10"
# The writer flushes a segment each time this much indexing memory fills. Typo walks run over the
# vocabulary (bot.vocabulary), not over these segments, so a modest budget costs little.
_WRITER_HEAP = 128 * 1024 * 1024
# How much of a typo match's BM25 counts beside its distance tier (1 apart): BM25 stays below 20.
_TYPO_BM25 = 0.04
# A typo match in the headline, standfirst or byline (a surname mistyped, "Brook" for the byline's
# "Brooke") scores this much of one in the passage: below the farther body tier (1 vs 0.8), so
# passages that have the word themselves are not crowded out of the candidates re-ranked.
_TITLE_TYPO = 0.4
# A name's typo neighbours asked of the headlines and bylines, closest first, whether or not
# passages have them too ("Brook": the byline's Brooke, though a passage names Rupert Brooke).
_TITLE_TYPO_NAMES = 10
# A query word counts once in a passage's score, by the best of how the passage has it: as typed
# (its body BM25), in another word form (its forms' BM25, ``_any_form``, times this), or in the
# headline. Below 1, the exact form wins where the BM25s are alike; the word's weight against the
# query's other words stays its BM25 however it matched (an exact form's BM25 added on top of the
# stem's counted an exact word three times, a word-form one once). Chosen on the even-numbered
# BBC seed-7 queries (0.8-1.0 alike), checked on the odd ones, BBC seed 11 and 1M
# (docs/benchmarks.md, issue 9).
_FORM_WEIGHT = 0.8
# A passage with several forms of a word: the best form's BM25 and this much of the others'.
# BM25 saturates a term's count (k1 = 1.2): two occurrences of one term score 1 + k1 / (2 + k1)
# times one, at an average length; two forms, each once, score the same as one stemmed term
# would (format v7's field).
_FORMS_TIE = 1.2 / (2 + 1.2)
_FORM_QUERIES_KEPT = 10_000  # words' form queries kept (then all are dropped: a day's queries)
# What one matched word counts in search_most_words: above any BM25 sum (12 words at most, each
# well under 100), and small enough that a float32 score still resolves BM25 to 0.01.
_WORD = 10_000.0

log = logging.getLogger(__name__)


class IndexBusy(RuntimeError):
    """Another process holds the index writer (an ingest is running there)."""


@dataclass(frozen=True, slots=True)
class WordQuery:
    """One query word: the folded token and how many typos it may have (0 = exact only);
    ``near``: the words it stands for with their edits, when the caller chose them (else the
    vocabulary's words within ``typos``)."""

    token: str
    typos: int
    near: tuple[tuple[str, int], ...] | None = None
    name: bool = False  # typed capitalised: its typo neighbours are asked of bylines too


@dataclass(frozen=True, slots=True)
class Filters:
    """What every hit must satisfy, whatever the words: applied in the index (a post-filter over
    a few candidates would lose hits)."""

    phrases: tuple[tuple[str, ...], ...] = ()  # folded tokens, in order, in the body
    excluded: tuple[str, ...] = ()  # folded tokens (any word form) the body must not have
    excluded_phrases: tuple[tuple[str, ...], ...] = ()  # folded tokens, in order: not in the body
    authors: tuple[WordQuery, ...] = ()  # each must match a byline word (typos allowed)
    after: int | None = None  # Unix seconds, inclusive (published, else first seen)
    before: int | None = None  # Unix seconds, exclusive

    @property
    def narrows(self) -> bool:
        """True when the filters alone select passages (a query may then have no keywords)."""
        return bool(self.phrases or self.authors or self.after is not None or self.before)


NO_FILTERS = Filters()
_FormEntry = tuple[tantivy.Query | None, bool]  # a word's forms query, and whether it has others
# (passage id, article id, body, headline + standfirst + byline, byline, Unix seconds of the
# article's date); each text as ``bot.text.index_text`` makes it.
IndexRow = tuple[int, int, str, str, str, int]


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("passage_id", stored=True, indexed=True, fast=True)
    b.add_integer_field("article_id", stored=False, indexed=True)
    b.add_unsigned_field("ts", stored=False, indexed=True, fast=True)
    # Positions for phrases. Word forms (attack / attacked) are the body words of one stem, found
    # through the vocabulary (``Vocabulary.forms``): a stemmed copy of the body (formats v6 and
    # v7) was a third of a 1M build's indexing and, stemmed in Python, a fifth of its critical
    # path (docs/benchmarks.md, issue 9).
    b.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="position")
    b.add_text_field("title", stored=False, tokenizer_name="whitespace", index_option="freq")
    b.add_text_field("author", stored=False, tokenizer_name="whitespace", index_option="basic")
    return b.build()


class PassageIndex:
    def __init__(self, path: Path) -> None:
        # Each index format lives in its own folder: an upgrade builds the new one from the store
        # beside the old one and never deletes an index that a running older version may use.
        self.path = path / f"v{_SCHEMA_VERSION}"
        self.path.mkdir(parents=True, exist_ok=True)
        if not tantivy.Index.exists(str(self.path)) and tantivy.Index.exists(str(path)):
            log.warning(
                "the search index of an older version in %s is no longer used: delete the files "
                "directly in that folder (not %s) once no older newsbot runs",
                path,
                self.path.name,
            )
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, str(self.path), reuse=True)
        self.vocab = Vocabulary(path / f"v{_SCHEMA_VERSION}-words")
        self._new_words: set[str] = set()  # the body words added since the last commit
        self._form_queries: dict[tuple[str, ...], tuple[tuple[int, int], _FormEntry]] = {}
        self._lock = threading.Lock()
        self._reloaded = 0.0

    def leftovers(self) -> list[Path]:
        """Files and folders of older index formats beside this one (safe to delete once no
        older newsbot runs on this database)."""
        mine = (self.path, self.vocab_path)
        return sorted(p for p in self.path.parent.iterdir() if p not in mine)

    @property
    def vocab_path(self) -> Path:
        return self.path.parent / f"v{_SCHEMA_VERSION}-words"

    # -- writing -------------------------------------------------------------------------------
    def writer(self, wait_seconds: float = 30.0) -> tantivy.IndexWriter:
        """The single index writer, waiting while another process holds it."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                writer = self.index.writer(heap_size=_WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise IndexBusy(f"the search index is locked by another ingest: {exc}") from exc
                time.sleep(0.2)
                continue
            # A process killed mid-commit can leave files that the last commit does not use;
            # the next commit may want the same names (FileAlreadyExists). Clear them first.
            writer.garbage_collect_files()
            return writer

    def replace_articles(
        self,
        writer: tantivy.IndexWriter,
        article_ids: Iterable[int],
        rows: Iterable[IndexRow],
        *,
        words_known: bool = False,
    ) -> int:
        """Delete the given articles' documents and add ``rows`` (``IndexRow``). Nothing is
        visible until ``writer.commit()``. ``words_known``: the bodies' words were given to
        ``learn`` where their texts were made (else they are learnt here, from a split of each
        body)."""
        for article_id in article_ids:
            writer.delete_documents_by_term("article_id", article_id)
        added = 0
        learn = self._new_words.update
        last = -1
        for passage_id, article_id, body, title, author, ts in rows:
            # Field by field: half the cost of keyword arguments (whose types tantivy guesses).
            doc = tantivy.Document()
            doc.add_integer("passage_id", passage_id)
            doc.add_integer("article_id", article_id)
            doc.add_text("body", body)
            doc.add_text("title", title)
            doc.add_text("author", author)
            doc.add_unsigned("ts", max(0, ts))
            writer.add_document(doc)
            if not words_known:
                learn(body.split())
            if article_id != last:  # rows come article by article
                # Headline, standfirst and byline words: typo walks find them too.
                last = article_id
                learn(title.split())
            added += 1
        return added

    def learn(self, words: Iterable[str]) -> None:
        """Body words to add at the next commit: learnt in bulk where the texts were made
        (splitting every body here for its words was a quarter of a big build's main thread),
        for rows then added with ``words_known``."""
        self._new_words.update(words)

    def commit(self, writer: tantivy.IndexWriter) -> None:
        """Commit the writer's changes, the vocabulary first (so it holds every indexed word)."""
        self.vocab.add(self._new_words)
        self._new_words = set()
        writer.commit()

    def rollback(self, writer: tantivy.IndexWriter) -> None:
        self._new_words = set()
        writer.rollback()

    def clear(self, writer: tantivy.IndexWriter) -> None:
        """Delete every document (seen at the commit); the vocabulary is emptied at once.

        The writer's uncommitted work is rolled back first: tantivy's ``delete_all_documents``
        deletes the committed documents only, and documents added earlier through the same
        writer (a catch-up's first batches, before it found the log pruned) would stay, twice."""
        self.rollback(writer)
        writer.delete_all_documents()
        self.vocab.clear()

    def needs_rebuild(self) -> bool:
        """True when the index is empty or its vocabulary is (a first start, a lost folder)."""
        return self.num_docs() == 0 or self.vocab.num_words() == 0

    # -- reading -------------------------------------------------------------------------------
    def _searcher(self) -> tantivy.Searcher:
        # Another process may have committed; pick that up at most once a second.
        now = time.monotonic()
        if now - self._reloaded > 1.0:
            with self._lock:
                self.index.reload()
                self._reloaded = now
        return self.index.searcher()

    def refresh(self) -> None:
        """See this process's own commit at once (other processes' within a second)."""
        with self._lock:
            self.index.reload()
            self._reloaded = time.monotonic()

    def num_docs(self) -> int:
        return self._searcher().num_docs

    def doc_freq(self, token: str) -> int:
        s = self._searcher()
        return s.doc_freq("body", token) + s.doc_freq("title", token)

    def search(
        self,
        words: Sequence[WordQuery],
        *,
        limit: int,
        require_all: bool = True,
        filters: Filters = NO_FILTERS,
        newest: bool = False,
    ) -> list[tuple[int, float]]:
        """(passage id, score) for passages matching the words and the filters, best first (or
        newest first: then the score is 0).

        Each word matches the body, as typed or in another word form, or the
        headline/standfirst/byline, or within its typo budget. ``require_all`` makes every word
        required; otherwise any word will do. With no words, the filters alone choose.
        """
        must, should = tantivy.Occur.Must, tantivy.Occur.Should
        if require_all:
            # What a word must match is one flat union; what only adds to a matching passage's
            # score comes as optional clauses, scored for the passages the words select (the
            # same scores as _word_query, a few times faster over long posting lists).
            clauses = []
            for group in _by_stem(words):
                if len(group) > 1:  # one requirement: a passage with the stem has them all
                    clauses.append((must, self._exact_query(*(w.token for w in group))))
                    continue
                required, optional = self._word_clauses(group[0])
                clauses.append((must, required))
                clauses += [(should, q) for q in optional]
        else:
            clauses = [(should, self._word_query(w)) for w in words]
        if not clauses and not filters.narrows:
            return []
        return self._top(self._filtered(clauses, filters), limit, newest=newest)

    def search_most_words(
        self, words: Sequence[WordQuery], *, limit: int, filters: Filters = NO_FILTERS
    ) -> list[tuple[int, float, int]]:
        """(passage id, score, words matched) for passages with as many of the words as possible
        (typos allowed), most words first, then by score (Meilisearch's "words" rule).

        Each word counts ``_WORD`` when it matches at all, plus its BM25 score (always far
        below ``_WORD``).
        """
        if not words:
            return []
        Q, should = tantivy.Query, tantivy.Occur.Should
        clauses = []
        for word in words:
            clauses.append((should, Q.const_score_query(self._word_query(word), _WORD)))
            clauses.append((should, self._exact_query(word.token)))
        some_word = [(tantivy.Occur.Must, Q.boolean_query(clauses))]
        out = []
        for passage_id, score in self._top(self._filtered(some_word, filters), limit):
            matched = min(int(score // _WORD), len(words))
            out.append((passage_id, score - matched * _WORD, matched))
        return out

    def related(
        self, terms: Sequence[tuple[str, float]], *, exclude_article: int, limit: int
    ) -> list[tuple[int, float]]:
        """Passages of other articles that share the most weighty of ``terms`` (token, weight),
        in any word form: a more-like-this query built from the passage's own terms."""
        Q, should = tantivy.Query, tantivy.Occur.Should
        clauses = [
            (should, Q.boost_query(q, w)) for t, w in terms if (q := self._any_form(t)) is not None
        ]
        if not clauses:
            return []
        query = Q.boolean_query(
            [
                (tantivy.Occur.Must, Q.boolean_query(clauses)),
                (
                    tantivy.Occur.MustNot,
                    Q.term_query(self.schema, "article_id", exclude_article),
                ),
            ]
        )
        return self._top(query, limit)

    def knows(self, token: str) -> bool:
        """True when some passage has the word, in this form or another, or its headline."""
        s = self._searcher()
        return any(s.doc_freq("body", w) for w in (token, *self.forms(token))) or bool(
            s.doc_freq("title", token)
        )

    def forms(self, *tokens: str) -> list[str]:
        """The indexed words of the tokens' stem (the first token's) but the tokens themselves:
        attack -> attacked, attacks, attacking."""
        return self.vocab.forms(stem(tokens[0]), but=tokens)

    def _any_form(self, *tokens: str) -> tantivy.Query | None:
        """The body has a word of the tokens' stem (the tokens among them), scored about as
        one stemmed term would be (there is no stemmed copy of the body to count them as one):
        each form's BM25 carries the stem's IDF instead of its own, which would make a rare
        form outrank the common one (docks over dock); a passage with several forms scores
        the best one's BM25 and ``_FORMS_TIE`` of the others'. None when no form of the stem
        has a passage."""
        return self._form_entry(tokens)[0]

    def _form_entry(self, tokens: tuple[str, ...]) -> _FormEntry:
        """(``_any_form`` of the tokens, whether a passage has a form other than them)."""
        searcher = self._searcher()
        # The same words' query is asked several times a search and by many searches: kept
        # while the index looks the same (its documents and segments; a commit changes them).
        seen = (searcher.num_docs, searcher.num_segments)
        kept = self._form_queries.get(tokens)
        if kept is not None and kept[0] == seen:
            return kept[1]
        if len(self._form_queries) >= _FORM_QUERIES_KEPT:
            self._form_queries.clear()
        entry = self._form_query(searcher, tokens)
        self._form_queries[tokens] = (seen, entry)
        return entry

    def _form_query(self, searcher: tantivy.Searcher, tokens: tuple[str, ...]) -> _FormEntry:
        Q = tantivy.Query
        others = self.forms(*tokens)
        if not others:  # most words: the tokens as typed, one IDF each is the stem's
            typed = [Q.term_query(self.schema, "body", t) for t in tokens]
            one = typed[0] if len(typed) == 1 else Q.disjunction_max_query(typed, _FORMS_TIE)
            return one, False
        found = [(w, searcher.doc_freq("body", w)) for w in (*tokens, *others)]
        found = [(w, df) for w, df in found if df]
        if not found:
            return None, False
        other_forms = any(w not in tokens for w, _ in found)
        docs = searcher.num_docs
        stem_idf = _idf(min(sum(df for _, df in found), docs), docs)  # forms may share one
        parts = [
            Q.boost_query(Q.term_query(self.schema, "body", w), stem_idf / _idf(df, docs))
            for w, df in found
        ]
        query = parts[0] if len(parts) == 1 else Q.disjunction_max_query(parts, _FORMS_TIE)
        return query, other_forms

    def body_doc_freq(self, token: str) -> int:
        return self._searcher().doc_freq("body", token)

    def _filtered(
        self, clauses: list[tuple[tantivy.Occur, tantivy.Query]], filters: Filters
    ) -> tantivy.Query:
        Q, must, must_not = tantivy.Query, tantivy.Occur.Must, tantivy.Occur.MustNot
        clauses = list(clauses)
        for phrase in filters.phrases:
            clauses.append((must, Q.phrase_query(self.schema, "body", list(phrase))))
        for word in filters.authors:
            clauses.append((must, self._author_query(word)))
        if filters.after is not None or filters.before is not None:
            low = max(0, filters.after or 0)
            high = max(0, filters.before - 1) if filters.before is not None else 2**63 - 1
            clauses.append(
                (must, Q.range_query(self.schema, "ts", tantivy.FieldType.Unsigned, low, high))
            )
        if not clauses:  # filters that only exclude: start from every passage
            clauses.append((must, Q.all_query()))
        for token in filters.excluded:
            for word in (token, *self.forms(token)):
                clauses.append((must_not, Q.term_query(self.schema, "body", word)))
        for phrase in filters.excluded_phrases:
            clauses.append((must_not, Q.phrase_query(self.schema, "body", list(phrase))))
        return Q.boolean_query(clauses)

    def _author_query(self, word: WordQuery) -> tantivy.Query:
        Q, should = tantivy.Query, tantivy.Occur.Should
        parts = [(should, Q.term_query(self.schema, "author", word.token))]
        if word.typos:  # a byline field is small: one walk of its terms is cheap
            parts.append((should, self._fuzzy("author", word.token, word.typos)))
        return Q.boolean_query(parts)

    def _top(
        self, query: tantivy.Query, limit: int, *, newest: bool = False
    ) -> list[tuple[int, float]]:
        """(passage id, score) of the query's best (or newest: score 0) ``limit`` documents."""
        searcher = self._searcher()
        if newest:
            found = searcher.search(
                query, limit, count=False, order_by_field="ts", order=tantivy.Order.Desc
            )
            return [(int(searcher.doc(a)["passage_id"][0]), 0.0) for _, a in found.hits]
        return [
            (int(searcher.doc(address)["passage_id"][0]), float(score))
            for score, address in searcher.search(query, limit, count=False).hits
        ]

    def _exact_query(self, *tokens: str) -> tantivy.Query:
        """A word as typed, in any form (scored as its stem, weighed ``_FORM_WEIGHT``) or in
        the headline: it counts once, by the best of the three. Several words of one stem (the
        same word in two forms in one query) count once too: as typed, their BM25s add up."""
        Q = tantivy.Query
        best = [_any_of([Q.term_query(self.schema, "body", t) for t in tokens])]
        any_form, other_forms = self._form_entry(tokens)
        if any_form is not None and other_forms:  # else it is the word as typed, again
            best.append(Q.boost_query(any_form, _FORM_WEIGHT))
        best += [Q.term_query(self.schema, "title", t) for t in tokens]
        return Q.disjunction_max_query(best)

    def expand(self, word: WordQuery) -> tuple[tuple[str, int], ...]:
        """(word, edits) for the indexed words within the word's typo budget, closest first."""
        return tuple(self.vocab.expand(word.token, word.typos)) if word.typos else ()

    def _near(self, word: WordQuery) -> tuple[tuple[str, int], ...]:
        """What the word stands for: the words its caller chose, else those within its budget."""
        return self.expand(word) if word.near is None else word.near

    def _word_clauses(self, word: WordQuery) -> tuple[tantivy.Query, list[tantivy.Query]]:
        """(what a passage must match for the word, what only adds to its score): the word in
        any form or its headline (``_exact_query``) or its typo neighbours (a constant by
        distance); then a little of the typo neighbours' BM25."""
        Q = tantivy.Query
        required = [self._exact_query(word.token)]
        optional: list[tantivy.Query] = []
        if word.typos:
            near = self._near(word)
            by_edits: dict[int, list[tantivy.Query]] = {}
            for term, edits in near:
                by_edits.setdefault(edits, []).append(Q.term_query(self.schema, "body", term))
            tiers = []
            for edits, terms in sorted(by_edits.items()):
                found = _any_of(terms)
                tiers.append(Q.const_score_query(found, 3.0 - edits))
                # The best neighbour's BM25 (a max, as one word stands for one of them).
                best = [Q.boost_query(t, _TYPO_BM25) for t in terms]
                optional.append(best[0] if len(best) == 1 else Q.disjunction_max_query(best))
            tiers += self._title_typos(near, name=word.name)
            if tiers:
                required.append(tiers[0] if len(tiers) == 1 else Q.disjunction_max_query(tiers))
        return _any_of(required), optional

    def _title_typos(
        self, near: Sequence[tuple[str, int]], *, name: bool = False
    ) -> list[tantivy.Query]:
        """A word's typo neighbours (word, edits) that headlines, standfirsts or bylines have,
        as a constant by distance (``_TITLE_TYPO`` of the body's): those no passage has (a
        byline's surname), and for a name the ``_TITLE_TYPO_NAMES`` closest in any headline.
        Every neighbour asked of the headlines made typo queries 10-40% slower at 1M passages
        (docs/benchmarks.md): a common word's neighbour some passage has is matched there."""
        Q, searcher = tantivy.Query, self._searcher()
        by_edits: dict[int, list[tantivy.Query]] = {}
        named = 0
        for term, edits in near:
            if not searcher.doc_freq("title", term):
                continue
            if name and named < _TITLE_TYPO_NAMES:
                named += 1
            elif searcher.doc_freq("body", term):
                continue
            by_edits.setdefault(edits, []).append(Q.term_query(self.schema, "title", term))
        return [
            Q.const_score_query(_any_of(terms), (3.0 - edits) * _TITLE_TYPO)
            for edits, terms in sorted(by_edits.items())
        ]

    def _word_query(self, word: WordQuery) -> tantivy.Query:
        Q, should = tantivy.Query, tantivy.Occur.Should
        parts = [(should, self._exact_query(word.token))]
        if word.typos:
            # Typos in the body, and in headlines for words no body has (``_title_typos``). A
            # typo match scores by its distance first (one typo 2, two typos 1), then a little of
            # the corrected word's BM25: the closest word wins, never index order.
            typos = []
            near = self._near(word)
            for term, edits in near:
                found = Q.term_query(self.schema, "body", term)
                typos.append(
                    Q.boolean_query(
                        [
                            (should, Q.const_score_query(found, 3.0 - edits)),
                            (should, Q.boost_query(found, _TYPO_BM25)),
                        ]
                    )
                )
            typos += self._title_typos(near, name=word.name)
            if typos:
                parts.append((should, Q.disjunction_max_query(typos)))
        return Q.boolean_query(parts)

    def _fuzzy(self, field: str, token: str, distance: int) -> tantivy.Query:
        return tantivy.Query.fuzzy_term_query(
            self.schema, field, token, distance=distance, transposition_cost_one=True
        )


def _any_of(queries: list[tantivy.Query]) -> tantivy.Query:
    """One query matching any of the (one or more) queries."""
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _idf(doc_freq: int, docs: int) -> float:
    """BM25's IDF, as tantivy computes it."""
    return math.log(1.0 + (docs - doc_freq + 0.5) / (doc_freq + 0.5))


def _by_stem(words: Sequence[WordQuery]) -> list[list[WordQuery]]:
    """The words in query order, the exact ones (no typos) of one stem together."""
    groups: dict[object, list[WordQuery]] = {}
    for i, word in enumerate(words):
        groups.setdefault(i if word.typos else stem(word.token), []).append(word)
    return list(groups.values())
