"""Follows benchmark: N follows against a batch of new articles (issue 12: 10,000 x 1,000 must
take seconds, not minutes).

Two ways, in the same run, over the same synthetic corpus (``benchmarks.corpus``):

- ``percolator`` (ours): the new articles' passages go into a throwaway index and every follow
  runs over it (``Archive.take_alerts``: the index build, every follow, the claims).
- ``naive`` (the baseline): each follow is searched over the whole archive index
  (``Archive.search``) and the hits among the new articles are kept. It runs on fewer follows;
  its time per follow is scaled to N in the last column.

Follows are 1-3 words: topic words of some new articles (they match), words drawn from the
whole vocabulary (most match nothing), and now and then a filter (-word, by:, a phrase).

    python -m benchmarks.follow_bench [--follows 10000] [--new 1000] [--old 2000]
                                      [--baseline-follows 300]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import CorpusWriter, article_path
from bot.archive import Archive
from bot.settings import Settings


def write_articles(writer: CorpusWriter, root: Path, first: int, count: int) -> list[str]:
    """Write ``count`` articles; returns their texts."""
    texts = []
    for n in range(first, first + count):
        text, _ = writer.article(writer.rng.randint(10, 20))
        path = article_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


def make_follows(
    rng: random.Random, writer: CorpusWriter, new_texts: list[str], n: int
) -> list[tuple[str, int | None]]:
    """(query, the new article it was taken from, when it must match that one)."""
    # A beat is named by its distinctive words: the names and places of a story's headline, not
    # its function words (a follow of "would" matches nearly every passage: past
    # MAX_PASSAGES_PER_FOLLOW, see bot.follows).
    function = {w.lower() for w in writer.vocab.function}
    words_of = [
        [
            w.strip(".,").lower()
            for w in t.split("\n", 1)[0].split()
            if len(w.strip(".,")) > 4 and w.strip(".,").lower() not in function
        ]
        for t in new_texts
    ]
    out: list[tuple[str, int | None]] = []
    for i in range(n):
        source = None
        if i % 4 == 0 and new_texts:  # from a new article's headline: it must match that one
            source = rng.randrange(len(words_of))
            pool = words_of[source] or ["nothing"]
            words = rng.sample(pool, min(len(pool), rng.randint(1, 2)))
        else:  # any distinctive words (names, places): most match nothing new
            words = [writer.vocab.uniform_tail(rng).lower() for _ in range(rng.randint(1, 2))]
        q = " ".join(words)
        r = rng.random()
        if r < 0.05:
            q += " -" + writer.vocab.uniform_tail(rng).lower()
            source = None  # the word left out may be in the article
        elif r < 0.08 and len(words) > 1:
            q = f'"{words[0]} {words[1]}"'
            source = None  # the two words need not stand together
        out.append((q, source))
    return out


def run(
    follows: int,
    new: int,
    old: int,
    baseline_follows: int,
    *,
    seed: int = 5,
    vocabulary: int = 150_000,
) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="follow-bench-") as tmp:
        root = Path(tmp)
        writer = CorpusWriter(seed, vocabulary)
        write_articles(writer, root / "articles", 0, old)
        archive = Archive.open(Settings(db_path=root / "db.sqlite", articles_dir=root / "articles"))
        archive.ingest()
        archive.take_alerts(limit=10**9)  # the old articles predate every follow
        new_texts = write_articles(writer, root / "articles", old, new)
        rng = random.Random(seed)
        made = make_follows(rng, writer, new_texts, follows)
        queries = [q for q, _ in made]
        store = archive.store
        queries_of: dict[int, str] = {}
        must: set[tuple[int, str]] = set()  # (follow id, path of the article it must match)
        with store.transaction():
            for i, (q, source) in enumerate(made):
                follow = store.add_follow(f"U{i % 2000:05d}", q)
                queries_of[follow.id] = q
                if source is not None:
                    must.add((follow.id, str(article_path(root / "articles", old + source))))
        started = time.perf_counter()
        report = archive.ingest()
        ingest_s = time.perf_counter() - started
        new_ids = set(report.new_ids)

        started = time.perf_counter()
        alerts = archive.take_alerts(limit=10**9)
        ours = time.perf_counter() - started
        matches = sum(len(a.pairs) for a in alerts)
        found = {
            (follow_id, m.article.path)
            for a in alerts
            for m in a.matches
            for follow_id, _ in m.pairs
        }
        rows.append(
            {
                "method": "percolator",
                "follows": follows,
                "new": len(new_ids),
                "archive": old + len(new_ids),
                "seconds": ours,
                "per_follow_ms": ours / follows * 1000,
                "at_n_seconds": ours,
                "matches": matches,
                "dms": len(alerts),
                "ingest_s": ingest_s,
                "missed": len(must - found),
                "missed_queries": sorted(queries_of[f] for f, _ in must - found)[:5],
            }
        )

        sample = queries[:baseline_follows]
        started = time.perf_counter()
        naive_matches = 0
        for q in sample:
            result = archive.search(q, limit=50)
            naive_matches += len({h.article.id for h in result.hits if h.article.id in new_ids})
        naive = time.perf_counter() - started
        rows.append(
            {
                "method": "naive (search the archive per follow)",
                "follows": len(sample),
                "new": len(new_ids),
                "archive": old + len(new_ids),
                "seconds": naive,
                "per_follow_ms": naive / max(len(sample), 1) * 1000,
                "at_n_seconds": naive / max(len(sample), 1) * follows,
                "matches": naive_matches,
                "dms": None,
                "ingest_s": None,
                "missed": None,
            }
        )
        archive.close()
    return rows


def print_table(rows: list[dict], n: int) -> None:
    head = f"{'method':40} {'follows':>8} {'new':>6} {'archive':>8} {'seconds':>9} "
    head += f"{'ms/follow':>10} {'at ' + str(n):>10} {'matches':>8}"
    print(head)
    for r in rows:
        print(
            f"{r['method']:40} {r['follows']:>8} {r['new']:>6} {r['archive']:>8}"
            f" {r['seconds']:>9.2f} {r['per_follow_ms']:>10.3f} {r['at_n_seconds']:>10.1f}"
            f" {r['matches']:>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--follows", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--old", type=int, default=2_000)
    parser.add_argument("--baseline-follows", type=int, default=300)
    args = parser.parse_args(argv)
    rows = run(args.follows, args.new, args.old, args.baseline_follows)
    print_table(rows, args.follows)
    ours = rows[0]
    print(
        f"(percolator: {ours['dms']} DMs; {ours['missed']} follows missed the article they were"
        f" taken from; ingest of the {args.new} new articles: {ours['ingest_s']:.1f} s, not"
        " counted)"
    )
    if ours["missed"]:
        print("missed:", ", ".join(ours["missed_queries"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
