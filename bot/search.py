"""Keyword search over passages: exact first, typo-tolerant when that finds too little.

Shape (DESIGN.md section 3): the index does the heavy lifting (BM25 over an inverted index, fuzzy
matching on its terms, never a scan of passages); rapidfuzz-style edit distances then re-score the
few candidates, mark matched words and choose "did you mean" words.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.index import PassageIndex, WordQuery
from bot.models import Hit, SearchResult
from bot.store import Store
from bot.text import edit_budget, iter_tokens, tokens, word_spans

MAX_QUERY_CHARS = 1000
MAX_WORDS = 12
MAX_LIMIT = 50
MAX_OFFSET = 10_000  # deeper pages would make the index rank offset + limit passages
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

EMPTY_HINT = "Type a few keywords to search the archive, e.g. “wagner mercenaries mali”."
NOTHING_HINT = (
    "Nothing in the archive matches. Try fewer keywords, another spelling, or a broader word."
)

NO_MORE_HINT = "No more results."


class _Words:
    """A text's word counts, and the words in it near each query word (computed once: ranking,
    highlighting and "did you mean" all ask)."""

    __slots__ = ("_near", "counts")

    def __init__(self, text: str) -> None:
        self.counts = Counter(tokens(text))
        self._near: dict[str, list[tuple[str, int]]] = {}

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def near(self, word: str) -> list[tuple[str, int]]:
        """(word in the text, edits) within the query word's typo budget."""
        found = self._near.get(word)
        if found is None:
            found = self._near[word] = _near(word, list(self.counts), edit_budget(word))
        return found


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage_id: int
    engine_score: float


class PassageSearch:
    def __init__(self, index: PassageIndex, store: Callable[[], Store]) -> None:
        self.index = index
        self._store = store

    def search(self, query: str, limit: int = 5, offset: int = 0) -> SearchResult:
        started = time.perf_counter()
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, min(int(offset), MAX_OFFSET))
        text = _CONTROL.sub(" ", query or "")
        notes = []
        if len(text) > MAX_QUERY_CHARS:
            text = text[:MAX_QUERY_CHARS]
            notes.append(f"Only the first {MAX_QUERY_CHARS} characters of the query were used.")
        words = list(dict.fromkeys(tokens(text)))
        if len(words) > MAX_WORDS:
            words = words[:MAX_WORDS]
            notes.append(f"Only the first {MAX_WORDS} words were used.")
        if not words:
            return SearchResult(query=query, hits=(), took_ms=_ms(started), hint=EMPTY_HINT)

        need = offset + limit
        pool = max(need * 2, 10)  # the index ranks well; re-ranking a few more is enough
        found: dict[int, _Candidate] = {}

        for pid, score in self.index.search([WordQuery(w, 0) for w in words], limit=pool):
            found[pid] = _Candidate(pid, score)
        fuzzy = [WordQuery(w, edit_budget(w)) for w in words]
        # Typo expansion only when the exact query finds nothing (Typesense's typo_tokens_threshold
        # of 1); fewer words only when no passage has them all, typos allowed (Meilisearch). Each
        # tier asks for all words (an intersection: cheap however long the posting lists are);
        # the last one ranks passages by how many words they have.
        if not found and any(w.typos for w in fuzzy):
            for pid, score in self.index.search(fuzzy, limit=pool):
                found[pid] = _Candidate(pid, score)
        if not found and len(words) > 1:
            for pid, score, _ in self.index.search_most_words(fuzzy, limit=pool):
                found[pid] = _Candidate(pid, score)

        hits, vocab, heads = self._rank(words, list(found.values()))
        page = [
            replace(h, spans=_spans(h.text, words, vocab[h.passage_id])) for h in hits[offset:need]
        ]
        corrected = self._did_you_mean(text, words, hits[:10], vocab, heads)
        hint = None
        if not hits:
            hint = NOTHING_HINT
        elif not page:
            hint = NO_MORE_HINT
        elif all(h.score < 10 for h in page):
            hint = "No passage has all the keywords; showing the closest matches."
        if notes:
            hint = " ".join([*notes, hint] if hint else notes)
        return SearchResult(
            query=query,
            hits=tuple(page),
            took_ms=_ms(started),
            corrected=corrected,
            hint=hint,
            offset=offset,
            has_more=len(hits) > need,
        )

    def _rank(
        self, words: list[str], candidates: list[_Candidate]
    ) -> tuple[list[Hit], dict[int, _Words], dict[int, _Words]]:
        """Hits best first, with the words of each passage and of each article's headline."""
        rows = self._store().passages_by_id([c.passage_id for c in candidates])
        top_engine = max((c.engine_score for c in candidates), default=1.0) or 1.0
        scored: list[tuple[float, Hit]] = []
        vocab: dict[int, _Words] = {}
        heads: dict[int, _Words] = {}
        for cand in candidates:
            row = rows.get(cand.passage_id)
            if row is None:  # removed since the index was committed
                continue
            passage, article = row
            body = vocab[passage.id] = _Words(passage.text)
            head = heads.get(article.id)
            if head is None:
                head = heads[article.id] = _Words(f"{article.title} {article.dek or ''}")
            quality = [_word_quality(w, body, head) for w in words]
            coverage = sum(q > 0 for q in quality) / len(words)
            # Every word present beats some words; exact beats typo; then BM25 decides.
            score = 10 * coverage + 5 * sum(quality) / len(words) + cand.engine_score / top_engine
            scored.append(
                (
                    score,
                    Hit(
                        article=article,
                        paragraph=passage.position,
                        text=passage.text,
                        score=round(score, 3),
                        spans=(),
                        passage_id=passage.id,
                    ),
                )
            )
        scored.sort(key=lambda item: (-item[0], item[1].passage_id))
        return [hit for _, hit in scored], vocab, heads

    def _did_you_mean(
        self,
        text: str,
        words: list[str],
        hits: list[Hit],
        vocab: dict[int, _Words],
        heads: dict[int, _Words],
    ) -> str | None:
        """The query with each unknown word replaced by the word it matched in the top hits."""
        fixes: dict[str, str] = {}
        for word in words:
            if edit_budget(word) == 0 or self.index.doc_freq(word) > 0:
                continue
            seen: Counter[str] = Counter()
            for hit in hits:
                body = vocab[hit.passage_id]
                for token, d in body.near(word):
                    if d:
                        seen[token] += (3 - d) * body.counts[token]
                for token, d in heads[hit.article.id].near(word):
                    if d:
                        seen[token] += 3 - d
            if seen:
                fixes[word] = seen.most_common(1)[0][0]
        if not fixes:
            return None
        out, last = [], 0
        for start, end, token in iter_tokens(text):
            if token in fixes:
                fix = fixes[token]
                if text[start].isupper():
                    fix = fix[:1].upper() + fix[1:]
                out.append(text[last:start] + fix)
                last = end
        out.append(text[last:])
        return " ".join("".join(out).split())


def _near(word: str, choices: list[str], budget: int) -> list[tuple[str, int]]:
    """(token, edits) for the choices within ``budget`` edits of word (C speed: rapidfuzz)."""
    if budget == 0 or not choices:
        return []
    found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=budget, limit=None)
    return [(token, int(d)) for token, d, _ in found]


def _spans(text: str, words: list[str], body: _Words) -> tuple[tuple[int, int], ...]:
    wanted = set(words)
    for word in words:
        wanted.update(t for t, _ in body.near(word))
    return word_spans(text, wanted)


def _word_quality(word: str, body: _Words, head: _Words) -> float:
    if word in body:
        return 1.0
    near = body.near(word)
    if near:
        return 0.8 - 0.15 * min(d for _, d in near)
    if word in head:
        return 0.5
    if head.near(word):
        return 0.4
    return 0.0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
