"""Extractive summaries: split text into sentences, score them, keep the best few in article order.

Pure Python. Two signals, measured in ``benchmarks/summary_bench.py`` (results and what else was
tried in ``docs/benchmarks.md``):

- centrality: the mean of two PageRanks over the sentence graph (TextRank's word overlap and a
  term-count cosine), with a mild bonus for longer sentences;
- position: news puts the essentials first, and the longer the article the more that holds, so
  how many central sentences position may choose from grows with the article's length. An
  opening with no name and no number (a "blind lede" that sets a scene) may not lead.

Fragments (bylines, datelines, timestamps, photo captions, sentences of under five words) are
never candidates.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

MIN_WORDS = 5

# Words followed by a period that never end a sentence (titles, common abbreviations).
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st sen rep gov gen lt col sgt capt cmdr adm maj rev hon pres supt det
    insp jr sr mt ft vs etc e.g i.e cf approx dept est fig jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue tues wed thu thur thurs fri sat sun""".split()
)
# Abbreviations that may end a sentence: split after them only before a typical sentence start.
_AMBIGUOUS = frozenset("inc ltd co corp bros plc llc jr sr no".split())
# Capitalised words that typically begin a sentence (used after "U.S." and the like).
_STARTERS = frozenset(
    """the a an he she it they we i you his her its their our my this that these those there
    but and or so yet however meanwhile in on at for from by with after before when while if as
    although though since until during what who which where why how some many most all both
    one two three no not mr mrs ms dr police officials according""".split()
)

# A sentence boundary candidate: terminal punctuation, optional closing quotes/brackets, space.
_BOUNDARY = re.compile(r"(\.{3}|…|[.!?]+)([\"'”’»)\]]*)(\s+)")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

# Fragments that are metadata, bylines or captions rather than prose.
_META_LINE = re.compile(
    r"^\s*(author|editor|source|date|url|tend|published|updated|last updated)\s*:",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^\s*by\s+[A-Z.]", re.IGNORECASE)
_TIMESTAMP = re.compile(
    r"\b\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?\s*)?(?:EST|EDT|GMT|BST|UTC|ET|PT|CET|CEST)\b"
    r"|\b(?:PUBLISHED|UPDATED)\s*:|\blast updated\b",
    re.IGNORECASE,
)
_CAPTION_MARK = re.compile(
    r"\((?:pictured|pictured (?:left|right|above|below|centre|center)|left|right|centre|center|"
    r"above|below|top|bottom|inset|file photo|file|top left|top right|bottom left|bottom right|"
    r"second left|second right|far left|far right)\)"
    r"|\b(?:AP|AFP|Reuters|Getty|EPA|PA) (?:Photo|Images)\b|\bPhoto(?:graph)?(?: credit)?\s*:"
    r"|^\s*(?:FILE|PHOTO|PICTURED|VIDEO|WATCH|READ MORE|SCROLL DOWN|CLICK HERE)\b"
    r"|\b(?:scroll down for video|click here|follow us on|all rights reserved)\b|©"
    r"|\bpictured\b|^\s*(?:above|below|left|right|inset)\s*[,:]"
    r"|,\s(?:far |second |top |bottom )?(?:left|right|centre|center)(?:,|\s\.|$)",
    re.IGNORECASE,
)
# "Label: what the picture shows" captions (Daily Mail style): one to three words and a colon.
_LABEL_CAPTION = re.compile(r"^\s*[A-Z][\w'’-]*(?:\s+[\w'’-]+){0,2}\s*:\s+[A-Z]")
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Za-z.'-]*(?:[ ,]+[A-Z][A-Za-z.'-]*){0,4}\s*)?"
    r"\((?:CNN|AP|AFP|Reuters|UPI|Bloomberg)\)\s*(?:--|—|–|-)\s*"
)

# Function words only: content words such as "said" or "year" still link sentences.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself me more most my myself no nor not of off on once only or other ought our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why with would you your yours yourself yourselves""".split()
)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    paragraph: int
    index: int  # position among the article's candidate sentences (0-based)
    terms: tuple[str, ...]  # stemmed content words
    words: int = 0  # word_count(text)


# -- sentence splitting --------------------------------------------------------------------------


def _last_word(text: str) -> str:
    match = re.search(r"([^\s\"'“‘(\[]+)$", text)
    return match.group(1) if match else ""


def _first_word(text: str) -> str:
    match = re.match(r"[\"'“‘(\[]*([^\s\"'”’)\].,;:!?]+)", text)
    return match.group(1) if match else ""


def _is_boundary(before: str, punct: str, after: str) -> bool:
    """Decide whether ``before`` + ``punct`` ends a sentence, given the text ``after`` it."""
    nxt = after.lstrip("\"'“‘(«[")
    if not nxt:
        return True
    if not (nxt[0].isupper() or nxt[0].isdigit()):
        return False  # '"Why?" he asked', 'a.m. on Monday', wrapped lines
    if punct != ".":
        return True  # ! ? ... and ellipses before a capital
    word = _last_word(before)
    bare = word.rstrip(".").lower()
    following = _first_word(after).lower()
    if not bare:
        return True
    if bare in _ABBREVIATIONS:
        return False
    if bare in _AMBIGUOUS:
        return following in _STARTERS and not (bare == "no" and nxt[0].isdigit())
    if len(bare) == 1 and bare.isalpha() and word[0].isupper():
        return False  # an initial: "George W. Bush", "J. K. Rowling"
    if "." in bare:  # an acronym: "U.S.", "a.m.", "U.K."
        return following in _STARTERS
    return True


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences; abbreviations, initials, decimals and quotes stay intact."""
    sentences: list[str] = []
    for line in re.split(r"\s*\n\s*", text.strip()):
        start = 0
        for match in _BOUNDARY.finditer(line):
            end = match.end(2)
            if _is_boundary(line[start : match.start(1)], match.group(1), line[match.end() :]):
                piece = line[start:end].strip()
                if piece:
                    sentences.append(piece)
                start = match.end()
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


# -- fragments -----------------------------------------------------------------------------------


def word_count(text: str) -> int:
    """Words that contain a letter: "14:11 EST, 25 October 2013" has two."""
    return sum(1 for w in _WORD.findall(text) if any(c.isalpha() for c in w))


def is_fragment(sentence: str) -> bool:
    """True for text that is not a summary-worthy sentence: bylines, metadata, captions, stubs."""
    text = sentence.strip()
    return _is_fragment(text, word_count(text))


def _is_fragment(text: str, words: int) -> bool:
    if words < MIN_WORDS:
        return True
    if _META_LINE.match(text) or _TIMESTAMP.search(text) or _CAPTION_MARK.search(text):
        return True
    if _BYLINE.match(text) and words <= 8:
        return True
    # A final period detached from the last word was added to an unpunctuated line: a caption or
    # a wrapped piece of one, never a sentence its author wrote.
    unpunctuated = bool(re.search(r"\s[.]$", text)) or not re.search(r"[.!?…\"'”’)]$", text)
    return unpunctuated and bool(_LABEL_CAPTION.match(text))


# -- scoring -------------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A light English suffix stripper: enough to match "talks"/"talked"/"talking"."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: -len(suffix)] + repl
    return word


def terms(text: str) -> tuple[str, ...]:
    """Stemmed words of ``text``, lower-cased, function words removed."""
    return tuple(_stem(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS)


def clean_sentence(text: str) -> str:
    """Strip a leading dateline ("LONDON (Reuters) --"), line-wrap dots and surplus spaces."""
    text = _DATELINE.sub("", text)
    text = re.sub(r"\s\.\s+(?=[a-z])", " ", text)  # "such as . wearing" (a wrapped line)
    return re.sub(r"\s+", " ", text).strip()


def candidates(paragraphs: Sequence[str]) -> list[Sentence]:
    """The article's sentences that may appear in a summary, in article order."""
    out: list[Sentence] = []
    for p, paragraph in enumerate(paragraphs):
        for raw in split_sentences(paragraph):
            text = clean_sentence(raw)
            words = word_count(text)
            if _is_fragment(text, words):
                continue
            out.append(Sentence(text, p, len(out), terms(text), words))
    return out


@dataclass(frozen=True, slots=True)
class Weights:
    """The summarizer's knobs. Chosen by measurement; see docs/benchmarks.md."""

    central_share: float = 0.5  # long articles: keep this share of the most central sentences
    length_pivot: float = 300.0  # article words at which half of that share is kept
    length_spread: float = 150.0  # words over which the share moves from none to all of it
    sentence_length: float = 0.25  # centrality x (words in the sentence) ** this
    centrality: float = 0.15  # weight of centrality when ordering the kept sentences
    position_exponent: float = 1.0  # position prior 1 / (1 + index) ** exponent
    redundancy: float = 0.5  # MMR penalty per unit of similarity to a sentence already chosen

    def share(self, words: int) -> float:
        """Share of the most central sentences that qualify, given the article's length.

        Lead bias grows with length: a short article is summarised by its most central
        sentences, a long one by its earliest sentences among the central ones.
        """
        x = (words - self.length_pivot) / max(self.length_spread, 1e-9)
        return self.central_share / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


DEFAULT_WEIGHTS = Weights()


def _pagerank(edges: Sequence[Sequence[tuple[int, float]]], damping: float) -> list[float]:
    """Weighted PageRank by power iteration over adjacency lists; the average node scores 1."""
    size = len(edges)
    out_weight = [sum(w for _, w in row) for row in edges]
    rank = [1.0 / size] * size
    for _ in range(100):
        dangling = sum(r for r, o in zip(rank, out_weight, strict=True) if not o)
        base = (1 - damping) / size + damping * dangling / size
        new = [base] * size
        for j in range(size):
            if out_weight[j]:
                share = damping * rank[j] / out_weight[j]
                for i, w in edges[j]:
                    new[i] += share * w
        delta = sum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if delta < 1e-7:
            break
    return [r * size for r in rank]


def centrality(sentences: Sequence[Sentence], damping: float = 0.85) -> list[float]:
    """Mean of two PageRanks over the sentence graph, scaled so the average sentence scores 1.

    One graph is TextRank's (shared words / (log|Si| + log|Sj|)), the other weights edges by the
    cosine of term counts. Alone, the two score about the same; their mean scored 0.3-0.6 BBC
    ROUGE-2 above either (docs/benchmarks.md), as the two graphs' errors partly cancel.
    """
    size = len(sentences)
    if size == 0:
        return []
    bags = [set(s.terms) for s in sentences]
    counts = [Counter(s.terms) for s in sentences]
    norms = [math.sqrt(sum(v * v for v in c.values())) for c in counts]
    overlap: list[list[tuple[int, float]]] = [[] for _ in range(size)]
    cosine: list[list[tuple[int, float]]] = [[] for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            common = bags[i] & bags[j]
            if not common:
                continue
            if len(bags[i]) >= 2 and len(bags[j]) >= 2:
                w = len(common) / (math.log(len(bags[i])) + math.log(len(bags[j])))
                overlap[i].append((j, w))
                overlap[j].append((i, w))
            c = sum(counts[i][t] * counts[j][t] for t in common) / (norms[i] * norms[j])
            cosine[i].append((j, c))
            cosine[j].append((i, c))
    by_overlap = _pagerank(overlap, damping)
    by_cosine = _pagerank(cosine, damping)
    return [(a + b) / 2 for a, b in zip(by_overlap, by_cosine, strict=True)]


def blind_lede(sentence: Sentence) -> bool:
    """True for an opening with no name and no number: no capitalised word after the first word
    and no digit, as in an anecdotal or teaser lede ("It was a quiet morning until ...").

    Such an opening sets a scene rather than saying what happened, so it may not lead a summary.
    """
    words = sentence.text.split()
    return not any(w[:1].isupper() for w in words[1:]) and not any(
        ch.isdigit() for ch in sentence.text
    )


# Score tier of qualified sentences: with redundancy <= 1 any of them outranks every other
# sentence, even after the MMR penalty. The others (most central first) only fill in when the
# qualified ones run out or repeat each other.
QUALIFIED = 2.0


def score_sentences(
    sentences: Sequence[Sentence], n: int = 3, weights: Weights = DEFAULT_WEIGHTS
) -> list[float]:
    """One score per sentence, higher is better; qualified sentences score ``QUALIFIED`` or more.

    Two stages: only the most central sentences qualify (what the article is about), and among
    those the earlier ones win (news puts the essentials first), centrality breaking near-ties.
    How many qualify grows with the article's length (``Weights.share``): in a short article
    only the ``n`` most central do, so position no longer matters there.
    """
    central = centrality(sentences)
    if not central:
        return []
    lengths = [s.words or word_count(s.text) for s in sentences]
    # Longer sentences carry more of the story: a mild bonus on top of centrality.
    value = [
        c * max(k, 1) ** weights.sentence_length for c, k in zip(central, lengths, strict=True)
    ]
    keep = max(n, math.ceil(weights.share(sum(lengths)) * len(sentences)))
    qualified = set(sorted(range(len(sentences)), key=lambda i: (-value[i], i))[:keep])
    if len(sentences) > n and blind_lede(sentences[0]):
        qualified.discard(0)  # a scene-setting opening may not lead; later sentences can
    top = max(value) or 1.0
    return [
        QUALIFIED + 1.0 / (1 + i) ** weights.position_exponent + weights.centrality * value[i] / top
        if i in qualified
        else value[i] / top
        for i in range(len(sentences))
    ]


def similarity(a: str, b: str) -> float:
    """Token similarity of two sentences in [0, 1] (1 when one's words contain the other's)."""
    return fuzz.token_set_ratio(a, b, processor=str.lower) / 100.0


def _select(
    pool: Sequence[tuple[float, Sentence]],
    n: int,
    redundancy: float,
    duplicate: float = 0.9,
    facts: Callable[[str], frozenset[str]] | None = None,
    same: Callable[[str, str], bool] | None = None,
) -> list[int]:
    """Greedy maximal marginal relevance: indices into ``pool`` of the ``n`` sentences picked.

    With ``facts`` (a sentence's figures), a sentence that repeats a figure already picked is
    a repeat too, however differently it is worded; so is one for which ``same(it, picked)``.
    """
    chosen: list[int] = []
    said: set[str] = set()
    order = sorted(range(len(pool)), key=lambda i: -pool[i][0])
    remaining = [i for i in order if pool[i][0] > -math.inf]
    while remaining and len(chosen) < n:
        best, best_value = -1, -math.inf
        for i in remaining:
            if facts is not None and facts(pool[i][1].text) & said:
                continue
            if same is not None and any(same(pool[i][1].text, pool[c][1].text) for c in chosen):
                continue
            overlap = max((similarity(pool[i][1].text, pool[c][1].text) for c in chosen), default=0)
            if overlap >= duplicate:
                continue
            value = pool[i][0] - redundancy * overlap
            if value > best_value:
                best, best_value = i, value
        if best < 0:
            break
        chosen.append(best)
        remaining.remove(best)
        if facts is not None:
            said.update(facts(pool[best][1].text))
    return chosen


def summarize(
    paragraphs: Sequence[str], n: int = 3, title: str = "", weights: Weights = DEFAULT_WEIGHTS
) -> list[str]:
    """The ``n`` best sentences of an article, in article order.

    ``title`` is accepted for callers that have one; measured, it did not improve the choice.
    """
    del title
    if n <= 0:
        return []
    sentences = candidates(paragraphs)
    scores = score_sentences(sentences, n, weights)
    picked = _select(list(zip(scores, sentences, strict=True)), n, weights.redundancy)
    return [sentences[i].text for i in sorted(picked)]


def summarize_story(
    articles: Sequence[tuple[str, Sequence[str]]],
    n: int = 3,
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    facts: Callable[[str], frozenset[str]] | None = None,
    stale: Callable[[str], bool] | None = None,
    same: Callable[[str, str], bool] | None = None,
) -> list[str]:
    """A summary of one story told by several articles, each ``(title, paragraphs)``.

    Each article's sentences are scored within that article; the best are then picked across
    articles with a redundancy penalty, so two outlets' versions of one fact appear once.
    Sentences come out grouped by article (in the order given), each article's in its own order.
    ``facts`` gives a sentence's figures (no two picked sentences share one), ``same`` says two
    sentences tell the same thing; a sentence for which ``stale`` is true (an outdated figure)
    is never picked.
    """
    if n <= 0 or not articles:
        return []
    pool: list[tuple[float, Sentence]] = []
    owner: list[int] = []
    for a, (_title, paragraphs) in enumerate(articles):
        sentences = candidates(paragraphs)
        scores = score_sentences(sentences, n, weights)
        if stale is not None:
            pairs = zip(scores, sentences, strict=True)
            scores = [-math.inf if stale(s.text) else v for v, s in pairs]
        pool.extend(zip(scores, sentences, strict=True))
        owner.extend([a] * len(sentences))
    picked = _select(pool, n, weights.redundancy, duplicate=0.75, facts=facts, same=same)
    picked.sort(key=lambda i: (owner[i], pool[i][1].index))
    return [pool[i][1].text for i in picked]
