"""The stories the digest makes of an unlabelled real sample, for judging merges by hand.

``story_bench`` measures grouping on our own labelled set; this prints what the same digest does
with real articles no label covers: a sample of the BBC News Summary articles (evaluation data in
``../shared/data``, read from there and written to a temporary folder only, never to this
repository), by default 298 of them drawn with ``random.Random(1).sample`` from the sorted file
list, as in docs/benchmarks.md "Build time". Every story with two or more articles is printed
with its articles' ids (``category/NNN``) and headlines, so a person can say whether each merge
is one event; ``--json`` writes the groups (ids only) for comparing two versions of the code.

    .venv/bin/python -m benchmarks.story_merges ../shared/data
    .venv/bin/python -m benchmarks.story_merges ../shared/data --json /tmp/merges.json
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.bbc_corpus import _read
from bot.articles import parse_article
from bot.digest.build import build_digest
from bot.store import Store, transaction


def sample(data_dir: Path, size: int, seed: int) -> list[Path]:
    paths = sorted((data_dir / "bbc-news-summary" / "articles").glob("*/*.txt"))
    if not paths:
        raise SystemExit(f"no BBC articles under {data_dir}/bbc-news-summary/articles")
    return random.Random(seed).sample(paths, size)


def stories(paths: list[Path]) -> list[list[tuple[str, str]]]:
    """The digest's stories of ``paths``, biggest first: [(id, headline), ...] each."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store.open(folder / "merges.db")
        try:
            with transaction(store.conn):
                for n, source in enumerate(paths):
                    ident = f"{source.parent.name}/{source.stem}"
                    headline, _, body = _read(source).replace("\r\n", "\n").strip().partition("\n")
                    blocks = [b.strip() for b in body.split("\n") if b.strip()]
                    path = folder / f"{n:04d}.txt"
                    path.write_text(headline.strip() + "\n\n" + "\n\n".join(blocks) + "\n", "utf-8")
                    article = parse_article(path, display_path=ident)
                    store.upsert_article(str(path), article, 1, 1, ident)
            now = datetime.now(UTC)
            digest = build_digest(
                store, now - timedelta(hours=1), now + timedelta(minutes=1), date.today(), None
            )
            return [[(a.path, a.title) for a in s.sources] for s in digest.stories]
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="the folder holding bbc-news-summary/")
    parser.add_argument("--size", type=int, default=298)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the multi-article groups (ids) here")
    args = parser.parse_args(argv)
    found = stories(sample(args.data, args.size, args.seed))
    multi = [s for s in found if len(s) > 1]
    for story in multi:
        print(f"-- {len(story)} articles")
        for ident, title in story:
            print(f"   {ident:<18} {title}")
    print(f"{len(found)} stories, {len(multi)} with two or more articles")
    if args.json:
        groups = sorted(sorted(ident for ident, _ in s) for s in multi)
        args.json.write_text(json.dumps(groups, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
