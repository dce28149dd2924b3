"""Group articles into stories: several outlets' reports of one event belong together.

Each article becomes a TF-IDF vector of the stemmed words in its headline (counted twice) and
leading text; IDF comes from the batch being grouped, so words every article shares ("said",
"government") count little. An article joins the story whose centroid it resembles most, when
the cosine similarity reaches ``THRESHOLD``; otherwise it starts a new story. The threshold was
validated on the BBC corpus (distinct articles) and on the seeds (one event, two outlets); see
docs/benchmarks.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.summarize import terms

T = TypeVar("T")

THRESHOLD = 0.25
LEAD_WORDS = 400  # how much of each article's text is compared
# IDF pretends the batch has at least this many articles, so a batch of two still weighs shared
# words sensibly (a plain TF cosine) instead of calling every shared word worthless.
MIN_BATCH = 50


@dataclass(frozen=True)
class StoryInput(Generic[T]):
    """What grouping needs to know about an article, plus the caller's own ``item``."""

    title: str
    text: str  # the leading text: dek and first paragraphs
    item: T = field(compare=False)


Vector = dict[str, float]


def _bag(title: str, text: str) -> Counter[str]:
    words = text.split()
    lead = " ".join(words[:LEAD_WORDS])
    bag = Counter(t for t in terms(lead) if len(t) > 2)
    for t in terms(title):
        if len(t) > 2:
            bag[t] += 2
    return bag


def vectors(docs: Sequence[tuple[str, str]]) -> list[Vector]:
    """Unit-length TF-IDF vectors of ``(title, text)`` pairs, IDF taken over the batch."""
    bags = [_bag(title, text) for title, text in docs]
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


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def similarity(a: tuple[str, str], b: tuple[str, str]) -> float:
    """How alike two ``(title, text)`` articles are, in [0, 1], with IDF over just the pair."""
    va, vb = vectors([a, b])
    return cosine(va, vb)


def group_stories(
    articles: Sequence[StoryInput[T]], threshold: float = THRESHOLD
) -> list[list[StoryInput[T]]]:
    """Stories in order of their first article; each story's articles keep their input order."""
    vecs = vectors([(a.title, a.text) for a in articles])
    centroids: list[Vector] = []
    members: list[list[int]] = []
    for i, vec in enumerate(vecs):
        best, best_sim = -1, threshold
        for s, centroid in enumerate(centroids):
            sim = cosine(vec, centroid)
            if sim >= best_sim:
                best, best_sim = s, sim
        if best < 0:
            centroids.append(dict(vec))
            members.append([i])
            continue
        members[best].append(i)
        centroids[best] = _mean([vecs[m] for m in members[best]])
    return [[articles[i] for i in group] for group in members]


def _mean(vecs: Sequence[Vector]) -> Vector:
    """The normalised sum of unit vectors (the direction of the story)."""
    total: dict[str, float] = {}
    for vec in vecs:
        for t, v in vec.items():
            total[t] = total.get(t, 0.0) + v
    norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
    return {t: v / norm for t, v in total.items()}
