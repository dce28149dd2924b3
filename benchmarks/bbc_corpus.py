"""A benchmark corpus from the BBC News Summary articles (evaluation data, ``../shared/data``).

The texts are the BBC's: they are written to the benchmark's work folder only, never to this
repository. The corpus has the layout ``benchmarks.corpus.write_corpus`` gives a synthetic one
(article files, ``passages.tsv``, ``queries.json``, ``manifest.json``), so ``search_bench``
runs every approach on it the same way. Paragraphs are numbered as the project's own parser
reads them; exact duplicate articles (136 groups in the set) are written once, so that a target
paragraph has one right answer. Queries: 2-4 of the rarest words of a target paragraph (clean),
with typos, with one keyword in another regular inflection (word form), and word form + typos in
the other words.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from benchmarks.corpus import (
    FUNCTION_WORDS,
    article_path,
    exact_words,
    make_query,
    normalised,
    word_forms,
)
from bot.articles import parse_article


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")  # sport/199.txt: one cp1252 pound sign


def write_bbc_corpus(
    root: Path,
    data_dir: Path,
    *,
    seed: int = 7,
    queries: int = 200,
    warmup: int = 20,
    unambiguous: bool = False,
) -> dict:
    """Write the BBC articles under root as a benchmark corpus; return the manifest.
    ``unambiguous``: a word-form query avoids a form with which another passage (not a copy of
    the target) has every query word as typed, where another keyword/form allows it."""
    sources = sorted((data_dir / "bbc-news-summary" / "articles").glob("*/*.txt"))
    if not sources:
        raise SystemExit(f"no BBC articles under {data_dir}/bbc-news-summary/articles")
    seen: set[str] = set()
    starts: list[int] = []
    passages: list[str] = []
    for source in sources:
        text = _read(source).replace("\r\n", "\n")
        digest = hashlib.sha1(text.encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        headline, _, body = text.strip().partition("\n")
        blocks = [b.strip() for b in body.split("\n") if b.strip()]
        path = article_path(root / "articles", len(starts))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(headline.strip() + "\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
        starts.append(len(passages))
        passages.extend(parse_article(path).paragraphs)  # as the project numbers them
    with (root / "passages.tsv").open("w", encoding="utf-8") as tsv:
        for n, text in enumerate(passages):
            tsv.write(f"{n}\t{normalised(text)}\n")
    df: Counter[str] = Counter()
    for text in passages:
        df.update({w.lower().strip(".,") for w in text.split()})
    # make_query wants the rarest words first: a higher rank is a rarer word.
    vocab = SimpleNamespace(function=frozenset(FUNCTION_WORDS), rank={w: -n for w, n in df.items()})
    forms = word_forms(df)
    rng = random.Random(seed * 31 + len(passages))
    targets = rng.sample(range(len(passages)), min(len(passages), queries + warmup))
    rival = _rivals(passages) if unambiguous else None
    made = [
        asdict(make_query(rng, vocab, t, passages[t], forms, rival and rival(t)))  # type: ignore[arg-type]
        for t in targets
    ]
    data = {"warmup": made[:warmup], "queries": made[warmup:]}
    (root / "queries.json").write_text(json.dumps(data))
    manifest = {
        "passages": len(passages),
        "articles": len(starts),
        "starts": starts,
        "seed": seed,
        "vocabulary": len(df),
        "wordform_unambiguous": unambiguous,
        "source": "BBC News Summary (evaluation data, not in the repository)",
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def _rivals(passages: list[str]):  # type: ignore[no-untyped-def]
    """rival(target)(words): whether a passage other than the target and its copies has every
    one of ``words`` as typed (``benchmarks.search_bench.judge``'s rule)."""
    having: dict[str, set[int]] = {}
    for n, text in enumerate(passages):
        for w in exact_words(text):
            having.setdefault(w, set()).add(n)
    texts = [normalised(t) for t in passages]

    def rival(target: int):  # type: ignore[no-untyped-def]
        def check(words: list[str]) -> bool:
            found = set.intersection(*(having.get(w.lower(), set()) for w in words))
            return any(texts[n] != texts[target] for n in found)

        return check

    return rival
