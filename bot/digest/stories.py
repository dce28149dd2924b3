"""Group articles into stories: several outlets' reports of one event belong together.

What identifies an event is compared on three views of each article (DESIGN.md section 8):

- the opening: TF-IDF of the stemmed words of the headline and first paragraph, where every
  outlet says what happened ("ferry capsized" / "vessel overturned" still share the place,
  the ship's name and the day's words);
- the body: TF-IDF of the headline and the first ``LEAD_WORDS`` words;
- names: the proper nouns (people, places, organisations, ships) and the figures of the
  whole text, weighted by how rare they are in the batch. Two bridges collapsing in two
  cities share their words but not their names.

The cosines are mixed with the weights of ``GroupWeights``; reports further apart in time than
``MAX_GAP`` count for half, and two reports that share names and count things in the same roles
(people killed, injured, evacuated: their event signature, ``signature``) count up to three
times as alike. Stories are then formed by average-link agglomerative clustering: two groups
merge while the mean similarity of their articles reaches the threshold, so an article joins a
story only when it resembles the story as a whole, not just one of its reports; and two groups
of reports never merge when each is told by repeated headline words the other never uses
(``distinct_events``: a fuel-tax march and a farmers' protest in one city on one day). Then a
view ("Analysis:", "Opinion:") left on its own joins the story it discusses, and single reports
close to a story are counted as its followers, for ranking (``group_with_followers``).

Weights and threshold were chosen on the fit part of ``benchmarks/data/stories``
(``benchmarks/story_bench.py --grid``; docs/benchmarks.md): the opening 0.6, names 0.4,
threshold 0.3. The body and the headline alone (a fourth view) scored no better there, so they
weigh 0; the body view then is not even computed. ``signature``, ``distinct`` and ``attach``
were set inside the ranges that keep every earlier labelled part's targets (fit, held-out,
check, blind), and checked for new merges on unlabelled BBC text
(``benchmarks/story_merges.py``; docs/benchmarks.md).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bot.digest.figures import figures, numbers
from bot.digest.summarize import STOPWORDS, terms

T = TypeVar("T")

LEAD_WORDS = 400  # how much of each article's text the body view compares
OPENING_WORDS = 60  # how much of the first paragraph the opening view compares
# IDF pretends the batch has at least this many articles, so a batch of two still weighs shared
# words sensibly (a plain TF cosine) instead of calling every shared word worthless.
MIN_BATCH = 50
MAX_GAP = timedelta(hours=48)  # reports further apart than this are rarely one event


@dataclass(frozen=True)
class GroupWeights:
    """How the three views are mixed, and the mean similarity at which groups merge."""

    opening: float = 0.6
    body: float = 0.0
    names: float = 0.4
    threshold: float = 0.3
    headline: float = 0.0
    # A group link is the mean of this share of its best pair links (1: plain average link).
    # 0.34 won on the fit part but merged a fire with its company's results in the held-out
    # part, so it is not used; see docs/benchmarks.md.
    top: float = 1.0
    # A view ("Analysis:", "Opinion:") left on its own joins the story whose reports it is most
    # like, on average, when that reaches this share of ``threshold``; a single report that
    # close to a story is its follower, which counts for the story's rank (``followers``).
    attach: float = 0.5
    # Reports that count things in the same roles (people killed, injured, evacuated:
    # ``signature``) are ``1 + signature x shared kinds / the larger set of kinds`` times as
    # alike ...
    signature: float = 2.0
    # ... but only between reports that also share names this much (names cosine): "has died
    # aged 44" and "has died aged 92" are two deaths, not one event.
    signature_names: float = 0.2
    # Two groups of two or more reports never merge when each group's headlines repeat event
    # words that the other's texts never use, weighing at least this share (``distinct``).
    distinct: float = 0.5


DEFAULT_GROUPING = GroupWeights()


@dataclass(frozen=True)
class StoryInput(Generic[T]):
    """What grouping needs to know about an article, plus the caller's own ``item``."""

    title: str
    text: str  # the article's text: dek and paragraphs
    item: T = field(compare=False)
    lead: str = ""  # the first paragraph (empty: the start of ``text``)
    when: datetime | None = None


Vector = dict[str, float]


# News words for one happening that outlets use interchangeably ("ferry capsized" / "vessel
# overturned"): each group is compared as its first word. Phrases are rewritten first.
_PHRASES = {
    "gave way": "collapsed",
    "came off the rails": "derailed",
    "come off the rails": "derailed",
    "left the track": "derailed",
    "leave track": "derailed",
    "turned over": "capsized",
    "walked out": "strike",
    "stopped work": "strike",
    "industrial action": "strike",
    "class action": "lawsuit",
}
_SYNONYMS = [
    "quake earthquake tremor temblor",
    "killed kill dead died die death deaths fatalities",
    "injured injure hurt wounded injuries",
    "ferry vessel boat ship",
    "capsized capsize overturned overturn sank sink sinking",
    "fire blaze flames inferno",
    "strike walkout strikes",
    "derailed derail derailment derails",
    "collapsed collapse collapses",
    "troops soldiers",
    "homes households houses",
    "plant factory",
    "lawsuit sue sued",
    "fined fine penalty",
]
_CANON = {stem: group.split()[0] for group in _SYNONYMS for stem in terms(group) if len(stem) > 2}
_PHRASE = re.compile("|".join(re.escape(p) for p in _PHRASES), re.IGNORECASE)


# Words any report may use about anything: they say nothing about which event it is.
_GENERIC = frozenset(
    terms(
        """said says say told tell according least now new also early late near nearly just
        still yet week weeks day days today year years time first last latest known more less
        many much several one two three four five six seven eight nine ten eleven twelve
        thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty
        hundred hundreds thousand thousands million monday tuesday wednesday thursday friday
        saturday sunday morning afternoon evening night overnight hours"""
    )
)


def _terms(text: str) -> list[str]:
    text = _PHRASE.sub(lambda m: _PHRASES[m.group(0).lower()], text)
    return [_CANON.get(t, t) for t in terms(text) if len(t) > 2 and t not in _GENERIC]


SAME_THING = 0.5


def shared_words(a: str, b: str) -> float:
    """The share of the shorter sentence's event words (synonyms as one, generic words left
    out) found in the other: "A fire broke out at the Brenner plant in Ostwick" and "A blaze
    tore through Brenner Foods' factory in Ostwick" share 0.45."""
    x, y = set(_terms(a)), set(_terms(b))
    return len(x & y) / min(len(x), len(y)) if x and y else 0.0


def same_thing(a: str, b: str) -> bool:
    """Two sentences tell the same happening (``SAME_THING`` of their event words shared)."""
    return shared_words(a, b) >= SAME_THING


def _bag(title: str, text: str, limit: int = LEAD_WORDS) -> Counter[str]:
    words = text.split()
    lead = " ".join(words[:limit])
    bag = Counter(_terms(lead))
    for t in _terms(title):
        bag[t] += 2
    return bag


def _weigh(bags: Sequence[Counter[str]]) -> list[Vector]:
    """Unit-length TF-IDF vectors of term bags, IDF taken over the batch."""
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    size = max(len(bags), MIN_BATCH)
    out = []
    for bag in bags:
        vec = {
            t: (1 + math.log(c)) * (math.log((size + 1) / (df[t] + 1)) + 1) for t, c in bag.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        out.append({t: v / norm for t, v in vec.items()})
    return out


def vectors(docs: Sequence[tuple[str, str]]) -> list[Vector]:
    """Unit-length TF-IDF vectors of ``(title, text)`` pairs, IDF taken over the batch."""
    return _weigh([_bag(title, text) for title, text in docs])


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def similarity(a: tuple[str, str], b: tuple[str, str]) -> float:
    """How alike two ``(title, text)`` articles are, in [0, 1], with IDF over just the pair."""
    va, vb = vectors([a, b])
    return cosine(va, vb)


# -- names ---------------------------------------------------------------------------------------

_CAPITAL = re.compile(r"\b[A-Z][\w'’-]*[a-z][\w'’-]*\b|\b[A-Z]{2,}\b")
# A capitalised word after a word or comma inside a sentence (not after . ! ? : or a line start).
_INSIDE = re.compile(r"(?<=[\w,;’'\"”)] )([A-Z][\w'’-]*[a-z][\w'’-]*|[A-Z]{2,})\b")
_NOT_NAMES = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december""".split()
)


def _names(docs: Sequence[str]) -> list[Counter[str]]:
    """Proper nouns and figures of each text.

    A capitalised word is a name when the batch never uses it in lower case ("Storm Imogen":
    "imogen" is a name, "storm" is not) and somewhere capitalises it inside a sentence (so a
    sentence's first word, "Families gathered ...", is not one); figures of 10 and more count
    as names too.
    """
    lower: set[str] = set()
    inside: set[str] = set()
    for doc in docs:
        lower.update(re.findall(r"\b[a-z][\w'’-]*", doc))
        inside.update(m.group(1) for m in _INSIDE.finditer(doc))
    out = []
    for doc in docs:
        bag: Counter[str] = Counter()
        for word in _CAPITAL.findall(doc):
            if word not in inside:
                continue
            key = word.lower().removesuffix("'s").removesuffix("’s")
            if key in lower or key in STOPWORDS or key in _NOT_NAMES or len(key) < 3:
                continue
            bag[key] += 1
        for figure in numbers(doc):
            if not figure.isdigit() or int(figure) >= 10:
                bag[f"#{figure}"] += 1
        out.append(bag)
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\d\"“‘'])")


def signature(article: StoryInput[T]) -> frozenset[tuple[str | None, str]]:
    """The kinds of figure a report gives in a role: what it counts and the role ("people
    killed", "homes without power"), the values left out (reports update and disagree)."""
    year = article.when.year if article.when else None
    out = set()
    lead = " ".join(article.text.split()[:LEAD_WORDS])
    for sentence in (article.title, *_SENTENCE_END.split(lead)):  # rough, but cheap
        for fig in figures(sentence, this_year=year):
            # Only a role tells what happened: "146,000 jobs" or "12 places" are counted in
            # every month's figures and every chart; "killed", "evacuated" are an event.
            if fig.year is None and fig.role is not None:
                out.add((fig.role, fig.noun or "people"))
    return frozenset(out)


# -- grouping ------------------------------------------------------------------------------------


def pair_similarities(
    articles: Sequence[StoryInput[T]], weights: GroupWeights = DEFAULT_GROUPING
) -> dict[tuple[int, int], float]:
    """Similarity of every pair ``(i, j)``, ``i < j``, that shares anything."""
    openings = []
    for a in articles:
        lead = a.lead or a.text
        openings.append(_bag(a.title, lead, OPENING_WORDS))
    opening = _weigh(openings)
    body = vectors([(a.title, a.text) for a in articles]) if weights.body else []
    heads = _weigh([Counter(_terms(a.title)) for a in articles])
    names = _weigh(_names([f"{a.title}\n{a.text}" for a in articles]))
    kinds = [signature(a) for a in articles] if weights.signature else []
    out: dict[tuple[int, int], float] = {}
    # An inverted index over what the weighed views hold: pairs that share nothing there are
    # never compared (their similarity is 0).
    views = [(w, v) for w, v in ((weights.opening, opening), (weights.body, body)) if w]
    views += [(w, v) for w, v in ((weights.names, names), (weights.headline, heads)) if w]
    keys = [
        {f"{n}:{t}" for n, (_, view) in enumerate(views) for t in view[i]}
        for i in range(len(articles))
    ]
    postings: dict[str, list[int]] = {}
    for i, terms_of in enumerate(keys):
        for t in terms_of:
            postings.setdefault(t, []).append(i)
    # Terms in more than a fifth of a big batch ("UK", "government") link nearly every pair
    # and decide none: pairs that share only those are not compared either.
    common = max(10, len(articles) // 5)
    for i in range(len(articles)):
        others = {j for t in keys[i] if len(postings[t]) <= common for j in postings[t] if j > i}
        for j in others:
            sim = weights.opening * cosine(opening[i], opening[j]) + weights.names * cosine(
                names[i], names[j]
            )
            if weights.headline:
                sim += weights.headline * cosine(heads[i], heads[j])
            if weights.body:
                sim += weights.body * cosine(body[i], body[j])
            if (
                kinds
                and (both := kinds[i] & kinds[j])
                and cosine(names[i], names[j]) >= weights.signature_names
            ):
                sim *= 1 + weights.signature * len(both) / max(len(kinds[i]), len(kinds[j]))
            wi, wj = articles[i].when, articles[j].when
            if wi is not None and wj is not None and abs(wi - wj) > MAX_GAP:
                sim *= 0.5
            if sim > 0:
                out[(i, j)] = sim
    return out


def average_link(
    size: int,
    pairs: dict[tuple[int, int], float],
    threshold: float,
    top: float = 1.0,
    allowed: Callable[[list[int], list[int]], bool] | None = None,
) -> list[list[int]]:
    """Average-link agglomerative clustering of ``size`` items: merge the two groups with the
    highest mean pairwise similarity (missing pairs count 0) while it reaches ``threshold``.

    Groups come back in order of their first item, items in order. ``allowed(a, b)``, when
    given, can forbid two groups (lists of items) to merge.
    """
    members: dict[int, list[int]] = {i: [i] for i in range(size)}
    sums: dict[int, dict[int, float]] = {i: {} for i in range(size)}
    for (i, j), sim in pairs.items():
        sums[i][j] = sums[i].get(j, 0.0) + sim
        sums[j][i] = sums[j].get(i, 0.0) + sim

    def link(a: int, b: int) -> float:
        if allowed is not None and not allowed(members[a], members[b]):
            return 0.0
        n = len(members[a]) * len(members[b])
        if top >= 1.0 or n == 1:
            return sums[a].get(b, 0.0) / n
        sims = sorted(
            (pairs.get((min(i, j), max(i, j)), 0.0) for i in members[a] for j in members[b]),
            reverse=True,
        )
        keep = max(1, math.ceil(n * top))
        return sum(sims[:keep]) / keep

    heap = [(-sim, i, j) for (i, j), sim in pairs.items() if sim >= threshold]
    heapq.heapify(heap)
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a not in members or b not in members:
            continue
        mean = link(a, b)
        if abs(mean + neg) > 1e-12:
            continue  # a stale entry: the groups changed since it was pushed
        members[a].extend(members.pop(b))
        for c, s in sums.pop(b).items():
            if c == a:
                continue
            sums[a][c] = sums[a].get(c, 0.0) + s
            sums[c][a] = sums[c].get(a, 0.0) + s
            sums[c].pop(b, None)
        sums[a].pop(b, None)
        for c in sums[a]:
            mean = link(a, c)
            if mean >= threshold:
                heapq.heappush(heap, (-mean, min(a, c), max(a, c)))
    groups = [sorted(g) for g in members.values()]
    return sorted(groups, key=lambda g: g[0])


_LABEL = re.compile(
    r"^\W*(?:opinion|analysis|comment|commentary|editorial|column|viewpoint|view|letters?)"
    r"\s*[:|–—-]\s*",
    re.IGNORECASE,
)


def distinct_events(
    articles: Sequence[StoryInput[T]], share: float
) -> Callable[[list[int], list[int]], bool]:
    """Whether two groups may merge: not when both are told by repeated headline words the
    other never uses.

    A group's key words are the event words (synonyms as one) in at least half of its
    headlines, and in two or more. A fuel-tax march ("Thousands march in Varn against fuel
    tax", "Fuel tax protest fills Varn streets", ...) and a farmers' protest in the same city
    the same day ("Farmers protest over water quotas in Varn", "Tractors in Varn as farmers
    fight water limits") share the city, the day and "protest", but neither group's texts ever
    say the other's key words ("fuel", "tax" / "farmers", "water"). Reports and follow-ups of
    one event do: a later group may add its own key words (a bay's name), the first group's
    are in its texts. Weighted by IDF over the batch's headlines; groups of one report are
    always allowed.
    """
    heads = [set(_terms(_LABEL.sub("", a.title))) for a in articles]
    df: Counter[str] = Counter()  # over the headlines: texts are read only when needed
    for words in heads:
        df.update(words)
    size = max(len(articles), MIN_BATCH)
    texts: dict[int, set[str]] = {}

    def idf(term: str) -> float:
        return math.log((size + 1) / (df[term] + 1)) + 1

    def text(i: int) -> set[str]:
        if i not in texts:
            texts[i] = set(_terms(f"{articles[i].title}\n{articles[i].text}"))
        return texts[i]

    def unsaid(a: list[int], b: list[int]) -> float:
        counts = Counter(t for i in a for t in heads[i])
        keys = [t for t, n in counts.items() if n >= max(2, len(a) / 2)]
        told = set().union(*(text(j) for j in b))
        total = sum(idf(t) for t in keys)
        return sum(idf(t) for t in keys if t not in told) / total if total else 0.0

    def allowed(a: list[int], b: list[int]) -> bool:
        if len(a) < 2 or len(b) < 2:
            return True
        return min(unsaid(a, b), unsaid(b, a)) < share

    return allowed


def group_stories(
    articles: Sequence[StoryInput[T]],
    threshold: float | None = None,
    weights: GroupWeights = DEFAULT_GROUPING,
) -> list[list[StoryInput[T]]]:
    """Stories in order of their first article; each story's articles keep their input order."""
    return group_with_followers(articles, threshold, weights)[0]


def group_with_followers(
    articles: Sequence[StoryInput[T]],
    threshold: float | None = None,
    weights: GroupWeights = DEFAULT_GROUPING,
) -> tuple[list[list[StoryInput[T]]], list[int]]:
    """``group_stories``'s stories, and for each how many followers it has: single reports left
    on their own whose closest story it is, with a mean similarity of at least ``attach`` x
    the threshold (a minister's reaction, patients waiting during a strike). Not merged, but
    coverage of the same news: the digest ranks a story with followers first among equals."""
    if not articles:
        return [], []
    limit = weights.threshold if threshold is None else threshold
    allowed = distinct_events(articles, weights.distinct) if weights.distinct < 1 else None
    pairs = pair_similarities(articles, weights)
    groups = average_link(len(articles), pairs, limit, weights.top, allowed)
    follow = [0] * len(groups)
    if weights.attach:
        closest = _closeness(pairs)
        groups = _attach_views(articles, groups, closest, limit * weights.attach)
        follow = _followers(groups, closest, limit * weights.attach)
    return [[articles[i] for i in group] for group in groups], follow


def _is_view(title: str) -> bool:
    return bool(_LABEL.match(title))


Closest = Callable[[int, list[list[int]]], tuple[float, int]]


def _closeness(pairs: dict[tuple[int, int], float]) -> Closest:
    """``closest(item, groups)``: the mean similarity of ``item`` to its closest group (other
    than its own) and that group's index ((0.0, -1) when none shares anything)."""
    near: dict[int, list[tuple[int, float]]] = {}
    for (i, j), sim in pairs.items():
        near.setdefault(i, []).append((j, sim))
        near.setdefault(j, []).append((i, sim))

    def closest(item: int, groups: list[list[int]]) -> tuple[float, int]:
        where = {j: k for k, group in enumerate(groups) for j in group}
        sums: dict[int, float] = {}
        for j, sim in near.get(item, ()):
            k = where.get(j)
            if k is not None and item not in groups[k]:
                sums[k] = sums.get(k, 0.0) + sim
        return max(((total / len(groups[k]), k) for k, total in sums.items()), default=(0.0, -1))

    return closest


def _attach_views(
    articles: Sequence[StoryInput[T]], groups: list[list[int]], closest: Closest, floor: float
) -> list[list[int]]:
    """Each view left alone ("Analysis: Why Kestrel Bay ferries keep running into trouble")
    joins the story of news reports it is most like, when that mean similarity reaches
    ``floor``: a view discusses an event already reported, it is rarely one of its own."""
    stories = [g for g in groups if any(not _is_view(articles[i].title) for i in g)]
    joining: dict[int, list[int]] = {}
    for group in groups:
        if len(group) == 1 and _is_view(articles[group[0]].title):
            mean, k = closest(group[0], stories)
            if k >= 0 and mean >= floor:
                joining.setdefault(stories[k][0], []).append(group[0])
    moved = {i for views in joining.values() for i in views}
    out = [sorted(g + joining.get(g[0], [])) for g in groups if not (len(g) == 1 and g[0] in moved)]
    return sorted(out, key=lambda g: g[0])


def _followers(groups: list[list[int]], closest: Closest, floor: float) -> list[int]:
    out = [0] * len(groups)
    for group in groups:
        if len(group) == 1:
            mean, k = closest(group[0], groups)
            if k >= 0 and mean >= floor and len(groups[k]) > 1:
                out[k] += 1
    return out
