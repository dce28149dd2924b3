"""Names with two typos: does a wider typo budget for capitalised words find them?

    .venv/bin/python -m benchmarks.name_typos WORKDIR [--names 200]

WORKDIR is a ``search_bench --bbc ... --keep`` work folder (its BBC corpus and our index in it).
Names: capitalised words of 5-8 letters inside a sentence, seen in two or more passages. Each is
typed with two typos (OSA distance 2, first letter kept upper-case) and searched twice: as typed
(capitalised: 2 typos allowed) and lower-cased (the ordinary budget: 1 typo). Counted: queries
that found anything, whose top hit has the name, and that found nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

from rapidfuzz.distance import OSA

from benchmarks.corpus import _one_typo
from bot.archive import Archive
from bot.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--names", type=int, default=200)
    args = parser.parse_args(argv)
    corpus = args.workdir / "corpus-bbc"
    passages = json.loads((corpus / "manifest.json").read_text())["passages"]
    db = args.workdir / f"state-{passages}-ours" / "newsbot.db"
    archive = Archive.open(Settings(db_path=db, articles_dir=corpus / "articles"))
    names: Counter[str] = Counter()
    with (corpus / "passages.tsv").open(encoding="utf-8") as tsv:
        for line in tsv:
            for m in re.finditer(r"(?<=[a-z,] )([A-Z][a-z]{4,7})\b", line):
                names[m.group(1)] += 1
    rng = random.Random(5)
    pool = sorted(n for n, c in names.items() if c >= 2)
    sample = rng.sample(pool, min(args.names, len(pool)))
    found = {"capitalised": [0, 0, 0], "lower-case": [0, 0, 0]}  # any, top hit right, nothing
    for name in sample:
        typed = name
        for _ in range(100):
            typed = _one_typo(rng, _one_typo(rng, name))
            if OSA.distance(name.lower(), typed.lower()) == 2 and typed[0].isupper():
                break
        for kind, query in (("capitalised", typed), ("lower-case", typed.lower())):
            hits = archive.search(query, limit=5).hits
            counts = found[kind]
            if not hits:
                counts[2] += 1
                continue
            counts[0] += 1
            counts[1] += name in hits[0].text or name in hits[0].article.title
    archive.close()
    print("| query typed | found something | top hit has the name | found nothing |")
    print("|---|---|---|---|")
    for kind, (some, right, none) in found.items():
        print(f"| {kind} ({len(sample)} names, 2 typos) | {some} | {right} | {none} |")


if __name__ == "__main__":
    main()
