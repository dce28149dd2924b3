"""Score 3-sentence summaries with ROUGE-1/2/L against reference summaries.

    .venv/bin/python -m benchmarks.summary_bench ../shared/data [--limit N] [--sentences 3]
        [--half fit|held-out]

DATA_DIR holds ``bbc-news-summary/`` (articles/<category>/NNN.txt with summaries/<category>/NNN.txt;
line 1 of an article is its headline, excluded from the candidate text) and
``cnndm-sample/train_sample.csv`` (columns id, article, highlights). Three methods run side by side
on exactly the same sentence splitting (``bot.digest.summarize.split_sentences``):

- ours: ``bot.digest.summarize.summarize`` (the headline is passed as ``title``; CNN/DM has none);
- lead-3: the first three sentences of five words or more;
- TextRank: Mihalcea & Tarau (2004) on the same sentences of five words or more: word-overlap
  similarity normalised by log sentence lengths, weighted PageRank (d = 0.85), top three in article
  order. Words are lower-cased, stop words removed, Porter-stemmed.

Scores are rouge-score's F1 x 100 with stemming, averaged over articles.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.digest.summarize import STOPWORDS, split_sentences, summarize, word_count

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
METRICS = ("rouge1", "rouge2", "rougeL")


@dataclass(frozen=True)
class Sample:
    dataset: str
    title: str
    paragraphs: tuple[str, ...]
    reference: str


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _spread(items: list, limit: int | None) -> list:
    """``limit`` items evenly spread over ``items`` (all of them without a limit)."""
    if limit is None or limit >= len(items):
        return items
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


# The split the summarizer's length knobs were chosen on ("fit") and the rest ("held-out").
HALVES = ("fit", "held-out")


def _bbc_half(path: Path, half: str | None) -> bool:
    """Odd-numbered BBC files are the fit half, even-numbered ones are held out."""
    if half is None:
        return True
    odd = int(path.stem) % 2 == 1 if path.stem.isdigit() else False
    return odd == (half == "fit")


def load_bbc(data_dir: Path, limit: int | None = None, half: str | None = None) -> list[Sample]:
    root = data_dir / "bbc-news-summary"
    articles = [p for p in sorted((root / "articles").glob("*/*.txt")) if _bbc_half(p, half)]
    samples = []
    for path in _spread(articles, limit):
        summary = root / "summaries" / path.parent.name / path.name
        text = _decode(path.read_bytes()).replace("\r\n", "\n")
        head, _, body = text.strip().partition("\n")
        paragraphs = tuple(p.strip() for p in re.split(r"\n\s*\n", body) if p.strip())
        reference = _decode(summary.read_bytes()).strip()
        samples.append(Sample("BBC", head.strip(), paragraphs, reference))
    return samples


def load_cnndm(data_dir: Path, limit: int | None = None, half: str | None = None) -> list[Sample]:
    path = data_dir / "cnndm-sample" / "train_sample.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if half is not None:  # the first 50 rows are the fit half, the others are held out
        rows = rows[:50] if half == "fit" else rows[50:]
    return [Sample("CNN/DM", "", (r["article"],), r["highlights"]) for r in _spread(rows, limit)]


# -- baselines -------------------------------------------------------------------------------------


def _sentences(sample: Sample) -> list[str]:
    return [s for p in sample.paragraphs for s in split_sentences(p) if word_count(s) >= 5]


def lead(sample: Sample, n: int) -> list[str]:
    return _sentences(sample)[:n]


# The same function words as the summarizer: both methods see the same vocabulary.
_STOP = STOPWORDS


def _textrank_words(sentence: str, stem: Callable[[str], str]) -> set[str]:
    words = re.findall(r"[^\W_]+", sentence.lower())
    return {stem(w) for w in words if w not in _STOP}


def pagerank(
    weights: list[list[float]], damping: float = 0.85, iterations: int = 100
) -> list[float]:
    """Weighted PageRank by power iteration on a symmetric similarity matrix."""
    size = len(weights)
    if size == 0:
        return []
    out_sums = [sum(row) for row in weights]
    rank = [1.0 / size] * size
    for _ in range(iterations):
        new = []
        for i in range(size):
            incoming = sum(
                weights[j][i] / out_sums[j] * rank[j]
                for j in range(size)
                if weights[j][i] and out_sums[j]
            )
            new.append((1 - damping) / size + damping * incoming)
        delta = sum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if delta < 1e-6:
            break
    return rank


def textrank(sample: Sample, n: int, stem: Callable[[str], str]) -> list[str]:
    sentences = _sentences(sample)
    bags = [_textrank_words(s, stem) for s in sentences]
    size = len(sentences)
    weights = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            common = len(bags[i] & bags[j])
            if not common or len(bags[i]) < 2 or len(bags[j]) < 2:
                continue
            w = common / (math.log(len(bags[i])) + math.log(len(bags[j])))
            weights[i][j] = weights[j][i] = w
    rank = pagerank(weights)
    best = sorted(range(size), key=lambda i: (-rank[i], i))[:n]
    return [sentences[i] for i in sorted(best)]


# -- running --------------------------------------------------------------------------------------


def _methods(n: int) -> dict[str, Callable[[Sample], list[str]]]:
    from nltk.stem.porter import PorterStemmer

    stem = PorterStemmer().stem
    return {
        "ours": lambda s: summarize(s.paragraphs, n, title=s.title),
        "lead-3" if n == 3 else f"lead-{n}": lambda s: lead(s, n),
        "TextRank": lambda s: textrank(s, n, stem),
    }


def evaluate(
    samples: Sequence[Sample], n: int = 3
) -> Iterator[tuple[str, str, dict[str, float], float]]:
    """(dataset, method, mean F1 x 100 per metric, ms per article) for each dataset and method."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    datasets: dict[str, list[Sample]] = {}
    for s in samples:
        datasets.setdefault(s.dataset, []).append(s)
    for name, group in datasets.items():
        for method, fn in _methods(n).items():
            totals = dict.fromkeys(METRICS, 0.0)
            took = 0.0
            for sample in group:
                start = time.perf_counter()
                summary = fn(sample)
                took += time.perf_counter() - start
                scores = scorer.score(sample.reference, " ".join(summary))
                for m in METRICS:
                    totals[m] += scores[m].fmeasure
            means = {m: 100 * totals[m] / len(group) for m in METRICS}
            yield name, method, means, 1000 * took / len(group)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--limit", type=int, default=None, help="at most N articles per dataset")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument(
        "--half",
        choices=HALVES,
        default=None,
        help="fit: odd-numbered BBC files + first 50 CNN/DM rows; held-out: the others",
    )
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir
    missing = [
        str(data_dir / part)
        for part in ("bbc-news-summary/articles", "cnndm-sample/train_sample.csv")
        if not (data_dir / part).exists()
    ]
    if missing:
        print(f"not an evaluation data folder, missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    samples = load_bbc(data_dir, args.limit, args.half) + load_cnndm(
        data_dir, args.limit, args.half
    )
    if not samples:
        print(f"no articles found under {data_dir}", file=sys.stderr)
        return 1
    counts = {d: sum(1 for s in samples if s.dataset == d) for d in ("BBC", "CNN/DM")}
    half = f", {args.half} half" if args.half else ""
    print(f"ROUGE F1 x 100, {args.sentences} sentences, rouge-score with stemming{half}")
    header = f"{'dataset':<8} {'articles':>8} {'method':<9} {'R-1':>6} {'R-2':>6} {'R-L':>6}"
    print(header + f" {'ms/article':>10}")
    print("-" * (len(header) + 11))
    for dataset, method, means, ms in evaluate(samples, args.sentences):
        print(
            f"{dataset:<8} {counts[dataset]:>8} {method:<9} {means['rouge1']:>6.1f}"
            f" {means['rouge2']:>6.1f} {means['rougeL']:>6.1f} {ms:>10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
