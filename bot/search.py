"""Keyword search over passages: exact first, typo-tolerant when that finds too little.

Shape (DESIGN.md section 3): the index does the heavy lifting (BM25 over an inverted index, fuzzy
matching on its terms, never a scan of passages); rapidfuzz-style edit distances then re-score the
few candidates, mark matched words and choose "did you mean" words.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.index import Filters, PassageIndex, WordQuery
from bot.models import Hit, SearchResult, StoredArticle
from bot.query import parse_query
from bot.store import Store
from bot.text import (
    MAX_TOKEN_LEN,
    STOP_WORDS,
    edit_budget,
    find_word,
    iter_tokens,
    query_budget,
    stem,
    tokens,
    word_spans,
)

MAX_QUERY_CHARS = 1000
MAX_WORDS = 12
MAX_LIMIT = 50
MAX_OFFSET = 10_000  # deeper pages would make the index rank offset + limit passages
RELATED_TERMS = 12  # the passage's weightiest words a related-passages query asks for
SORTS = ("relevance", "newest")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

EMPTY_HINT = "Type a few keywords to search the archive, e.g. “wagner mercenaries mali”."
NOTHING_HINT = (
    "Nothing in the archive matches. Try fewer keywords, another spelling, or a broader word."
)
ONLY_EXCLUDED_HINT = "Add a keyword to search for, not only words to leave out (-word)."
NO_MORE_HINT = "No more results."
NOTHING_RELATED_HINT = "No passage of another article is like this one."


class _Words:
    """A text's word counts, and the words in it near each query word or in another form of it
    (computed once: ranking, highlighting and "did you mean" all ask).

    The text is tokenized only when something needs every word (counts, typos): in ASCII text
    (most news copy) whether a word is there, and its forms, are found in the lower-cased text
    directly, the same words ``tokens`` would give."""

    __slots__ = ("_counts", "_forms", "_lower", "_near", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        # "_" joins words into one token and non-ASCII text is folded: those take the tokens.
        self._lower = text.lower() if text.isascii() and "_" not in text else None
        self._counts: Counter[str] | None = None
        self._near: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._forms: dict[str, list[str]] = {}

    @property
    def counts(self) -> Counter[str]:
        if self._counts is None:
            self._counts = Counter(tokens(self.text))
        return self._counts

    def __contains__(self, word: str) -> bool:
        if self._counts is None and self._lower is not None and _plain(word):
            return next(find_word(self._lower, word), None) is not None
        return word in self.counts

    def near(self, word: str, budget: int) -> list[tuple[str, int]]:
        """(word in the text, edits) within the query word's typo budget."""
        key = (word, budget)
        found = self._near.get(key)
        if found is None:
            found = self._near[key] = _near(word, list(self.counts), budget)
        return found

    def named(self, token: str) -> bool:
        """True when the token stands capitalised somewhere in the text (a name, likely)."""
        return any(self.text[start].isupper() for start, _ in word_spans(self.text, {token}))

    def forms(self, word: str) -> list[str]:
        """The words of the text with the query word's stem (attacked for attack), itself too.
        A stem never changes a word's first letter, so only those words are stemmed."""
        found = self._forms.get(word)
        if found is None:
            target, first = stem(word), word[:1]
            if self._counts is None and self._lower is not None and _plain(word):
                starting = dict.fromkeys(
                    t[:MAX_TOKEN_LEN] for t in _starting_with(first).findall(self._lower)
                )
            else:
                starting = {t: 0 for t in self.counts if t[:1] == first}
            found = [t for t in starting if stem(t) == target]
            self._forms[word] = found
        return found


def _plain(word: str) -> bool:
    """A word that is a run of ASCII letters in the text exactly as it is in a query."""
    return 3 <= len(word) < MAX_TOKEN_LEN and word.isascii() and word.isalpha()


@lru_cache(maxsize=64)
def _starting_with(letter: str) -> re.Pattern[str]:
    """The tokens of lower-cased ASCII text that start with this letter."""
    return re.compile(rf"(?<!\w){re.escape(letter)}\w*")


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage_id: int
    engine_score: float


@dataclass(frozen=True, slots=True)
class _Plan:
    """A parsed query, ready for the index: keywords with their typo budgets, and filters."""

    text: str
    words: list[str]  # keywords to require (stop words left out when there are others)
    ranked: list[str]  # words that rank and highlight: keywords and phrase words
    budgets: dict[str, int]
    filters: Filters
    notes: list[str]
    names: frozenset[str] = frozenset()  # words typed capitalised


class PassageSearch:
    def __init__(self, index: PassageIndex, store: Callable[[], Store]) -> None:
        self.index = index
        self._store = store

    def search(
        self, query: str, limit: int = 5, offset: int = 0, sort: str = "relevance"
    ) -> SearchResult:
        started = time.perf_counter()
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, min(int(offset), MAX_OFFSET))
        newest = sort == "newest"
        plan = _plan(query or "")
        if isinstance(plan, str):
            return SearchResult(query=query, hits=(), took_ms=_ms(started), hint=plan)
        words, budgets, filters = plan.words, plan.budgets, plan.filters
        need = offset + limit
        # The index ranks well: re-ranking a few more is enough. Newest first, the index's
        # order is the answer, so one more than the page tells whether there is more.
        pool = need + 1 if newest else max(need * 2, 10)
        found: dict[int, _Candidate] = {}

        exact = [WordQuery(w, 0) for w in words]
        # A word no passage has (in any form) cannot match exactly: straight to typos then.
        if all(self.index.knows(w) for w in words):
            for pid, score in self.index.search(exact, limit=pool, filters=filters, newest=newest):
                found[pid] = _Candidate(pid, score)
        fuzzy = [WordQuery(w, budgets[w], name=w in plan.names) for w in words]
        # Typo expansion only when the exact query (word forms included) finds nothing
        # (Typesense's typo_tokens_threshold of 1); fewer words only when no passage has them
        # all, typos allowed (Meilisearch). Each tier asks for all words (an intersection: cheap
        # however long the posting lists are); the last one ranks passages by how many words
        # they have.
        if not found and any(w.typos for w in fuzzy):
            # The closest words first: a word allowed two typos stands for the words one typo
            # away when there are any (they would rank first anyway, and the two-typo walk of
            # the vocabulary is most of a typo search's time); for all the words within two
            # only when that finds nothing.
            fuzzy, wider = self._closest(fuzzy)
            for pid, score in self.index.search(fuzzy, limit=pool, filters=filters, newest=newest):
                found[pid] = _Candidate(pid, score)
            if not found and wider:
                fuzzy = [replace(w, near=self.index.expand(w)) if w in wider else w for w in fuzzy]
                for pid, score in self.index.search(
                    fuzzy, limit=pool, filters=filters, newest=newest
                ):
                    found[pid] = _Candidate(pid, score)
        if not found and len(words) > 1:
            for pid, score, _ in self.index.search_most_words(fuzzy, limit=pool, filters=filters):
                found[pid] = _Candidate(pid, score)

        hits, vocab, heads, in_body = self._rank(plan.ranked, budgets, list(found.values()), newest)
        if hits and not in_body and len(words) > 1:
            # Every passage with all the words has them in its headline (or byline) only:
            # passages that have some of the words themselves, as typed or in another form,
            # come first.
            for pid, score, _ in self.index.search_most_words(exact, limit=pool, filters=filters):
                found.setdefault(pid, _Candidate(pid, score))
            hits, vocab, heads, in_body = self._rank(
                plan.ranked, budgets, list(found.values()), newest
            )
        page = [
            replace(
                h,
                spans=_spans(
                    h.text, plan.ranked, budgets, vocab[h.passage_id], heads[h.article.id]
                ),
            )
            for h in hits[offset:need]
        ]
        corrected = self._did_you_mean(plan.text, words, budgets, hits[:10], vocab, heads)
        hint = None
        if not hits:
            hint = NOTHING_HINT
        elif not page:
            hint = NO_MORE_HINT
        elif words and all(h.score < 10 for h in page):
            hint = "No passage has all the keywords; showing the closest matches."
        if plan.notes:
            hint = " ".join([*plan.notes, hint] if hint else plan.notes)
        return SearchResult(
            query=query,
            hits=tuple(page),
            took_ms=_ms(started),
            corrected=corrected,
            hint=hint,
            offset=offset,
            has_more=len(hits) > need,
        )

    def _closest(self, words: list[WordQuery]) -> tuple[list[WordQuery], list[WordQuery]]:
        """The words with what they stand for: a word allowed two typos stands for the words
        one typo away when there are any. Also the words narrowed that way."""
        out, narrowed = [], []
        for word in words:
            near = self.index.expand(replace(word, typos=1)) if word.typos > 1 else ()
            if near:
                narrowed.append(word := replace(word, near=near))
            else:
                word = replace(word, near=self.index.expand(word))
            out.append(word)
        return out, narrowed

    def related(self, passage_id: int, limit: int = 5) -> SearchResult | None:
        """The passages of other articles most like this one (None: no such passage).

        A more-like-this query over the index: the passage's weightiest words (tf-idf, stop
        words and numbers left out), each in any word form, ORed; BM25 ranks."""
        started = time.perf_counter()
        limit = max(1, min(int(limit), MAX_LIMIT))
        row = self._store().passages_by_id([passage_id]).get(passage_id)
        if row is None:
            return None
        passage, article = row
        counts = Counter(
            t for t in tokens(passage.text) if len(t) > 2 and t.isalpha() and t not in STOP_WORDS
        )
        total = max(self.index.num_docs(), 1)
        weights = []
        for token, tf in counts.items():
            df = self.index.body_doc_freq(token)
            if df:
                weights.append((token, (1 + math.log(tf)) * math.log(1 + total / df)))
        weights.sort(key=lambda tw: (-tw[1], tw[0]))
        terms = weights[:RELATED_TERMS]
        top = terms[0][1] if terms else 1.0
        found = self.index.related(
            [(t, 1 + w / top) for t, w in terms], exclude_article=article.id, limit=limit
        )
        rows = self._store().passages_by_id([pid for pid, _ in found])
        wanted = {stem(t) for t, _ in terms}
        hits = []
        for pid, score in found:
            if pid not in rows:
                continue
            other, other_article = rows[pid]
            shared = {t for t in tokens(other.text) if stem(t) in wanted}
            hits.append(
                Hit(
                    article=other_article,
                    paragraph=other.position,
                    text=other.text,
                    score=round(score, 3),
                    spans=word_spans(other.text, shared),
                    passage_id=pid,
                )
            )
        return SearchResult(
            query=f"related to: {article.title} (paragraph {passage.position + 1})",
            hits=tuple(hits),
            took_ms=_ms(started),
            hint=None if hits else NOTHING_RELATED_HINT,
        )

    def _rank(
        self,
        words: list[str],
        budgets: dict[str, int],
        candidates: list[_Candidate],
        newest: bool = False,
    ) -> tuple[list[Hit], dict[int, _Words], dict[int, _Words], set[int]]:
        """Hits best (or newest) first, with the words of each passage and of each article's
        headline, and the passages that have a query word themselves (not just the headline)."""
        rows = self._store().passages_by_id([c.passage_id for c in candidates])
        idf = self._idf()
        top_engine = max((c.engine_score for c in candidates), default=1.0) or 1.0
        scored: list[tuple[tuple[float, ...], Hit]] = []
        in_body: set[int] = set()
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
                head = heads[article.id] = _Words(
                    " ".join(x for x in (article.title, article.dek, article.byline) if x)
                )
            matched = [_word_quality(w, budgets.get(w, 0), body, head, idf) for w in words]
            quality = [tier for tier, _ in matched]
            n = len(words) or 1
            coverage = sum(q > 0 for q in quality) / n if words else 1.0
            mean = sum(quality) / n if words else 1.0
            # Within one tier: the corrected words' BM25 (as the score weighed it before the
            # tiers were strict: a fifth of the engine's), then the engine's BM25; 0-1.
            within = (0.1 * sum(b for _, b in matched) / n + cand.engine_score / top_engine) / (
                1 + 0.1 * _BM25_MAX
            )
            # Every word present beats some words; then, word by word, exact beats word form
            # beats typo (the closest first) beats the headline: between two passages whose
            # other words match alike no BM25 crosses a tier (the smallest step, 0.1 on one
            # word, is 0.5 / n here; tiers of several words add up, and a sum can differ by
            # less); then BM25.
            score = 10 * coverage + 5 * mean + _WITHIN_TIER / n * within
            hit = Hit(
                article=article,
                paragraph=passage.position,
                text=passage.text,
                score=round(score, 3),
                spans=(),
                passage_id=passage.id,
            )
            # A passage with none of the words (found through its headline) comes last.
            if not words or any(q >= _IN_BODY for q in quality):
                in_body.add(passage.id)
            when = _timestamp(article) if newest else 0.0
            scored.append(((-when, passage.id not in in_body, -score, passage.id), hit))
        scored.sort(key=lambda item: item[0])
        return [hit for _, hit in scored], vocab, heads, in_body

    def _idf(self) -> Callable[[str], float]:
        """A word's inverse document frequency over the index, 0-1 (cached for one search)."""
        total = max(self.index.num_docs(), 1)
        top = math.log(1 + total)
        cache: dict[str, float] = {}

        def idf(token: str) -> float:
            found = cache.get(token)
            if found is None:
                df = max(self.index.doc_freq(token), 1)
                found = cache[token] = math.log(1 + total / df) / top
            return found

        return idf

    def _did_you_mean(
        self,
        text: str,
        words: list[str],
        budgets: dict[str, int],
        hits: list[Hit],
        vocab: dict[int, _Words],
        heads: dict[int, _Words],
    ) -> str | None:
        """The query with each unknown word replaced by the word it matched in the top hits:
        the closest one, then the most frequent there."""
        fixes: dict[str, str] = {}
        for word in words:
            budget = budgets.get(word, 0)
            if budget == 0 or self.index.doc_freq(word) > 0:
                continue
            if any(vocab[h.passage_id].forms(word) for h in hits):
                continue  # found in another form: nothing to correct
            seen: Counter[tuple[int, str]] = Counter()
            for hit in hits:
                body = vocab[hit.passage_id]
                for token, d in body.near(word, budget):
                    if d:
                        seen[d, token] += body.counts[token]
                for token, d in heads[hit.article.id].near(word, budget):
                    if d:
                        seen[d, token] += 1
            if seen:
                (_, fixes[word]), _ = min(seen.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0]))
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


def _plan(query: str) -> _Plan | str:
    """The query parsed for the index, or the hint to answer instead."""
    text = _CONTROL.sub(" ", query)
    notes = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        notes.append(f"Only the first {MAX_QUERY_CHARS} characters of the query were used.")
    parsed = parse_query(text)
    if parsed.error:
        return parsed.error
    budgets: dict[str, int] = {}
    names: set[str] = set()  # words typed capitalised: names, likely
    for start, end, token in iter_tokens(parsed.text):
        budgets[token] = max(budgets.get(token, 0), query_budget(token, parsed.text[start:end]))
        if parsed.text[start].isupper():
            names.add(token)
    words = list(budgets)
    if len(words) > MAX_WORDS:
        words = words[:MAX_WORDS]
        notes.append(f"Only the first {MAX_WORDS} words were used.")
    # Function words are not required when the query has others (as Elasticsearch's english
    # analyzer drops them); a phrase still holds them in place.
    words = [w for w in words if w not in STOP_WORDS] or words
    phrase_words = [t for p in parsed.phrases for t in p if t not in STOP_WORDS]
    ranked = list(dict.fromkeys([*words, *phrase_words]))
    filters = Filters(
        phrases=parsed.phrases,
        excluded=parsed.excluded,
        excluded_phrases=parsed.excluded_phrases,
        authors=tuple(WordQuery(a, edit_budget(a)) for a in parsed.authors),
        after=_day_start(parsed.after),
        before=_day_start(parsed.before + timedelta(days=1)) if parsed.before else None,
    )
    if not words and not filters.narrows:
        return ONLY_EXCLUDED_HINT if parsed.excluded or parsed.excluded_phrases else EMPTY_HINT
    return _Plan(text, words, ranked, budgets, filters, notes, frozenset(names))


def _day_start(day: date | None) -> int | None:
    if day is None:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _timestamp(article: StoredArticle) -> float:
    return (article.published or article.first_seen).timestamp()


def _near(word: str, choices: list[str], budget: int) -> list[tuple[str, int]]:
    """(token, edits) for the choices within ``budget`` edits of word (C speed: rapidfuzz)."""
    if budget == 0 or not choices:
        return []
    found = process.extract(word, choices, scorer=OSA.distance, score_cutoff=budget, limit=None)
    return [(token, int(d)) for token, d, _ in found]


def _spans(
    text: str,
    words: list[str],
    budgets: dict[str, int],
    body: _Words,
    head: _Words | None = None,
) -> tuple[tuple[int, int], ...]:
    """Where the matched words stand: as typed or in another form, else within their typo
    budget (a word the passage or its headline has is what matched, not its neighbours one
    typo away: ``_word_quality``). Stop words are never marked."""
    wanted = set(words)
    for word in words:
        forms = body.forms(word)
        wanted.update(forms)
        if not forms:
            wanted.update(t for t, _ in _body_typos(word, budgets.get(word, 0), body, head))
    return word_spans(text, wanted - STOP_WORDS)


_IN_BODY = 0.45  # a tier at or above this is a match in the passage itself
_FORM = 0.9  # a word-form match (exact 1.0); 0.99 traded clean for word-form queries
_HEADLINE = 0.3  # the word (in some form) in the headline, standfirst or byline only
_WITHIN_TIER = 0.45  # what BM25 adds at most, over the query's words: under one tier step
_BM25_MAX = 2.2  # ``_bm25``'s ceiling


def _word_quality(
    word: str, budget: int, body: _Words, head: _Words, idf: Callable[[str], float]
) -> tuple[float, float]:
    """How a word matched, as (tier, the corrected word's BM25 for a typo match, else 0):
    exact 1.0 > word form 0.9 > one typo 0.65 > two typos 0.5 > the headline only 0.3 > a typo
    in the headline 0.2. Among typo matches of one distance the corrected word's BM25 in the
    passage decides (``_bm25``: never index order). A word the headline has as typed matched
    there, not through a common word of the passage a typo from it (``_body_typos``)."""
    if word in body:
        return 1.0, 0.0
    if body.forms(word):
        return _FORM, 0.0
    near = _body_typos(word, budget, body, head)
    if near:
        d = min(d for _, d in near)
        return 0.8 - 0.15 * d, max(_bm25(body, t, idf) for t, e in near if e == d)
    if word in head or head.forms(word):
        return _HEADLINE, 0.0
    if head.near(word, budget):
        return 0.2, 0.0
    return 0.0, 0.0


def _body_typos(word: str, budget: int, body: _Words, head: _Words | None) -> list[tuple[str, int]]:
    """The passage's words within the word's typo budget that it stands for. When the headline
    has the word itself, only the names among them (capitalised in the passage: "Gaddafi" in
    the story of a "Gadaffi" headline): the exact query found the passage through its headline,
    and a common word a typo away ("fore" for "fire") is another word."""
    near = body.near(word, budget)
    if near and head is not None and (word in head or head.forms(word)):
        return [(t, e) for t, e in near if body.named(t)]
    return near


def _bm25(body: _Words, token: str, idf: Callable[[str], float]) -> float:
    """BM25 of one word in a passage (k1 1.2, b 0.75, a typical passage of 60 words), 0-2.2."""
    tf = body.counts[token]
    length = sum(body.counts.values())
    return idf(token) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / 60))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
