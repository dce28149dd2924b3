"""The passage index: tantivy (an inverted index ranked by BM25, with fuzzy term queries).

It is derived data: every document is a passage from the SQLite store, keyed by passage id, and
the whole index can be rebuilt from the store. Text arrives already folded and tokenized by
``bot.text`` so that indexing and querying agree on what a word is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tantivy

_SCHEMA_VERSION = "1"
_WRITER_HEAP = 128 * 1024 * 1024


class IndexBusy(RuntimeError):
    """Another process holds the index writer (an ingest is running there)."""


@dataclass(frozen=True, slots=True)
class WordQuery:
    """One query word: the folded token and how many typos it may have (0 = exact only)."""

    token: str
    typos: int


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("passage_id", stored=True, indexed=True, fast=True)
    b.add_integer_field("article_id", stored=False, indexed=True)
    b.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    b.add_text_field("title", stored=False, tokenizer_name="whitespace", index_option="freq")
    return b.build()


class PassageIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        version_file = path / "newsbot-index-version"
        fresh = not tantivy.Index.exists(str(path))
        if not fresh and (
            not version_file.exists() or version_file.read_text().strip() != _SCHEMA_VERSION
        ):
            raise RuntimeError(f"search index at {path} has another format: delete it to rebuild")
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, str(path), reuse=True)
        if fresh:
            version_file.write_text(_SCHEMA_VERSION)
        self.created = fresh
        self._lock = threading.Lock()
        self._reloaded = 0.0

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
        rows: Iterable[tuple[int, int, str, str]],
    ) -> int:
        """Delete the given articles' documents and add ``rows`` (passage id, article id, body,
        title as index text). Nothing is visible until ``writer.commit()``."""
        for article_id in article_ids:
            writer.delete_documents_by_term("article_id", article_id)
        added = 0
        for passage_id, article_id, body, title in rows:
            writer.add_document(
                tantivy.Document(
                    passage_id=passage_id, article_id=article_id, body=body, title=title
                )
            )
            added += 1
        return added

    def clear(self, writer: tantivy.IndexWriter) -> None:
        writer.delete_all_documents()

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
        self, words: Sequence[WordQuery], *, limit: int, require_all: bool = True
    ) -> list[tuple[int, float]]:
        """(passage id, score) for passages matching the words, best first.

        Each word matches the body or the headline/standfirst, exactly (boosted) or within its typo
        budget. ``require_all`` makes every word required; otherwise any word will do.
        """
        if not words:
            return []
        occur = tantivy.Occur.Must if require_all else tantivy.Occur.Should
        clauses = [(occur, self._word_query(w)) for w in words]
        query = tantivy.Query.boolean_query(clauses)
        searcher = self._searcher()
        result = searcher.search(query, limit, count=False)
        out = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            out.append((int(doc["passage_id"][0]), float(score)))
        return out

    def _word_query(self, word: WordQuery) -> tantivy.Query:
        Q, should = tantivy.Query, tantivy.Occur.Should
        parts = [
            (should, Q.boost_query(Q.term_query(self.schema, "body", word.token), 2.0)),
            (should, Q.term_query(self.schema, "title", word.token)),
        ]
        if word.typos:
            # Typos on the body only: a fuzzy term query walks the field's whole term dictionary
            # (per segment), and headline words are nearly always in the body too.
            fuzzy = Q.fuzzy_term_query(
                self.schema, "body", word.token, distance=word.typos, transposition_cost_one=True
            )
            parts.append((should, fuzzy))
        return Q.boolean_query(parts)
