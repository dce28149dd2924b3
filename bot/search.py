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
from dataclasses import dataclass

from bot.index import PassageIndex, WordQuery
from bot.models import Hit, SearchResult
from bot.store import Store
from bot.text import edit_budget, highlight_spans, iter_tokens, matches, tokens

MAX_QUERY_CHARS = 1000
MAX_WORDS = 12
MAX_LIMIT = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

EMPTY_HINT = "Type a few keywords to search the archive, e.g. “wagner mercenaries mali”."
NOTHING_HINT = (
    "Nothing in the archive matches. Try fewer keywords, another spelling, or a broader word."
)

NO_MORE_HINT = "No more results."


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage_id: int
    engine_score: float
    tier: int  # 3: every word exactly, 2: every word with typos allowed, 1: some words


class PassageSearch:
    def __init__(self, index: PassageIndex, store: Callable[[], Store]) -> None:
        self.index = index
        self._store = store

    def search(self, query: str, limit: int = 5, offset: int = 0) -> SearchResult:
        started = time.perf_counter()
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, int(offset))
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
        pool = max(need * 3, 30)
        found: dict[int, _Candidate] = {}

        def collect(word_queries: list[WordQuery], tier: int, require_all: bool) -> None:
            for pid, score in self.index.search(word_queries, limit=pool, require_all=require_all):
                if pid not in found:
                    found[pid] = _Candidate(pid, score, tier)

        exact = [WordQuery(w, 0) for w in words]
        collect(exact, 3, True)
        fuzzy = [WordQuery(w, edit_budget(w)) for w in words]
        typo_allowed = any(w.typos for w in fuzzy)
        # Typo expansion only when the exact query finds too little (Typesense's threshold idea).
        if len(found) <= need and typo_allowed:
            collect(fuzzy, 2, True)
        if len(found) <= need and len(words) > 1:
            collect(fuzzy, 1, False)

        hits = self._rank(words, list(found.values()))
        page = hits[offset:need]
        corrected = self._did_you_mean(text, words, hits[:10])
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

    def _rank(self, words: list[str], candidates: list[_Candidate]) -> list[Hit]:
        rows = self._store().passages_by_id([c.passage_id for c in candidates])
        top_engine = max((c.engine_score for c in candidates), default=1.0) or 1.0
        scored: list[tuple[float, Hit]] = []
        for cand in candidates:
            row = rows.get(cand.passage_id)
            if row is None:  # removed since the index was committed
                continue
            passage, article = row
            body = set(tokens(passage.text))
            head = set(tokens(f"{article.title} {article.dek or ''}"))
            quality = [_word_quality(w, body, head) for w in words]
            coverage = sum(q > 0 for q in quality) / len(words)
            # Every word present beats some words; exact beats typo; then BM25 decides.
            score = 10 * coverage + 5 * sum(quality) / len(words) + cand.engine_score / top_engine
            spans = highlight_spans(passage.text, words)
            scored.append(
                (
                    score,
                    Hit(
                        article=article,
                        paragraph=passage.position,
                        text=passage.text,
                        score=round(score, 3),
                        spans=spans,
                        passage_id=passage.id,
                    ),
                )
            )
        scored.sort(key=lambda item: (-item[0], item[1].passage_id))
        return [hit for _, hit in scored]

    def _did_you_mean(self, text: str, words: list[str], hits: list[Hit]) -> str | None:
        """The query with each unknown word replaced by the word it matched in the top hits."""
        fixes: dict[str, str] = {}
        for word in words:
            if edit_budget(word) == 0 or self.index.doc_freq(word) > 0:
                continue
            seen: Counter[str] = Counter()
            for hit in hits:
                for token in tokens(f"{hit.text} {hit.article.title}"):
                    d = matches(word, token)
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


def _word_quality(word: str, body: set[str], head: set[str]) -> float:
    if word in body:
        return 1.0
    best = min((d for t in body if (d := matches(word, t)) is not None), default=None)
    if best is not None:
        return 0.8 - 0.15 * best
    if word in head:
        return 0.5
    if any(matches(word, t) is not None for t in head):
        return 0.4
    return 0.0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
