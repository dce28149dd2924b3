"""Synthetic news-like corpora and known-target queries for the search benchmark.

Everything is derived from one seed, so a run can be repeated exactly. The shape is chosen so that
typo expansion meets a realistic term dictionary:

- a Zipf-Mandelbrot distribution over ~150k pseudo-words (common English function and news words
  at the head; syllable-built words with suffix variants such as -s/-ed/-ing, so many terms have
  neighbours one or two edits away; proper names and places, a few of them accented), plus
  numbers written as reporters write them ("2,700", "1998", "3.5");
- articles of 10-20 paragraphs with a headline, each with a few "topic" words (names, places)
  that recur across its paragraphs, as named entities do in real reporting;
- queries of 2-4 distinctive words of one known target paragraph, and the same queries with
  1-2 typos a word within the Meilisearch budget (none under 5 letters, 2 only from 9 letters).

The corpus is written as article files (headline, blank line, paragraphs, a metadata block at the
end), so the benchmark builds the project's index through its real ingest path.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rapidfuzz.distance import OSA

FUNCTION_WORDS = (
    "the of and to a in that is for on it with as was he said by at from his be have has an "
    "are they not but were had which this their been after who would will its more also one "
    "there two over up than other she new about last first into year years out we when people "
    "all some can government could only her most time told there them police before minister "
    "told since between under while so if what against three week our state president country "
    "may no because officials during city where other just former such any now these made those "
    "him group where many both being should percent four says still million report back being "
    "then day found held public national security military forces official local party team "
    "told around killed another however including month days left make did around several high"
).split()
FUNCTION_WORDS = tuple(dict.fromkeys(FUNCTION_WORDS))

_ONSETS = (
    "", "", "b", "bl", "br", "c", "ch", "cl", "cr", "d", "dr", "f", "fl", "fr", "g", "gl", "gr",
    "h", "j", "k", "kr", "l", "m", "n", "p", "pl", "pr", "qu", "r", "s", "sc", "sh", "sk", "sl",
    "sm", "sn", "sp", "st", "str", "t", "th", "tr", "v", "w", "y", "z", "b", "c", "d", "f", "g",
    "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "l", "m", "n", "r", "s", "t",
)  # fmt: skip
_VOWELS = (
    "a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "ie", "oa", "oo", "ou", "y",
)  # fmt: skip
_CODAS = (
    "", "", "", "", "b", "ck", "d", "f", "g", "k", "l", "ll", "m", "n", "nd", "ng", "nk", "nt",
    "p", "r", "rd", "rk", "rn", "rs", "rt", "s", "ss", "st", "t", "th", "x", "", "", "", "n",
    "r", "s", "t", "l", "m",
)  # fmt: skip
_SUFFIXES = ("s", "ed", "ing", "er", "ers", "ly", "ion", "ness", "al", "es")
_NAME_ENDINGS = ("", "", "ov", "son", "ez", "ini", "ou", "ski", "a", "o", "el", "an", "ara")
_PLACE_ENDINGS = ("", "burg", "abad", "ville", "ka", "stan", "ia", "gara", "tu", "mont", "ford")
_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç"}
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(_KEYBOARD) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in pos.items():
        near = [
            d
            for d, (r2, i2) in pos.items()
            if d != c and abs(r2 - r) <= 1 and abs((i2 + 0.5 * r2) - (i + 0.5 * r)) <= 1.0
        ]
        out[c] = "".join(near)
    return out


NEIGHBOURS = _neighbours()


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Query:
    target: int  # global passage number
    clean: str
    typo: str
    typo_edits: int  # total edits applied over all words
    # One keyword in another regular inflection than the paragraph has (attack -> attacked),
    # then the same with typos in the other words; "" when no keyword has another form.
    wordform: str = ""
    wordform_typo: str = ""


# Regular English inflection endings: two words are forms of each other when they share their
# Snowball stem and differ only in these endings after a common beginning (attack / attacked,
# economy / economies, rate / rating).
REGULAR_ENDINGS = frozenset({"", "s", "es", "ed", "d", "ing", "y", "ies", "ied", "e"})


def word_forms(words: Iterable[str]) -> dict[str, list[str]]:
    """Each lower-case alphabetic word -> its other regular inflections among ``words``."""
    from bot.text import stem

    groups: dict[str, list[str]] = {}
    for w in {w.lower() for w in words if w.isalpha() and w.isascii() and len(w) >= 3}:
        groups.setdefault(stem(w), []).append(w)
    forms: dict[str, list[str]] = {}
    for group in groups.values():
        for w in group:
            others = sorted(o for o in group if o != w and _regular_pair(w, o))
            if others:
                forms[w] = others
    return forms


def _regular_pair(a: str, b: str) -> bool:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n >= 3 and a[n:] in REGULAR_ENDINGS and b[n:] in REGULAR_ENDINGS


class Vocabulary:
    """Words by frequency rank with Zipf-Mandelbrot weights; ``draw`` samples k words."""

    def __init__(self, rng: random.Random, size: int = 150_000, exponent: float = 1.07) -> None:
        keyed: list[tuple[float, str]] = []
        seen = set(FUNCTION_WORDS)

        def syllables(n: int) -> str:
            return "".join(
                rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n)
            )

        def fresh(make) -> str | None:  # type: ignore[no-untyped-def]
            for _ in range(20):
                w = make()
                if 2 <= len(w) <= 12 and w not in seen:
                    seen.add(w)
                    return w
            return None

        while len(keyed) < size:
            kind = rng.random()
            n = rng.choices((1, 2, 3, 4), weights=(30, 48, 18, 4))[0]
            if kind < 0.70:  # common noun/verb with variants
                base = fresh(lambda n=n: syllables(n))
                if base is None:
                    continue
                key = len(base) + rng.gauss(0, 2.5)
                keyed.append((key, base))
                if rng.random() < 0.35:
                    for suffix in rng.sample(_SUFFIXES, rng.randint(1, 3)):
                        if (v := fresh(lambda b=base, s=suffix: b + s)) is not None:
                            keyed.append((key + rng.uniform(0.5, 3.0), v))
            else:  # proper names and places
                endings = _NAME_ENDINGS if kind < 0.88 else _PLACE_ENDINGS
                name = fresh(lambda n=n, e=endings: syllables(max(1, n - 1)) + rng.choice(e))
                if name is None or len(name) < 3:
                    continue
                if rng.random() < 0.05:  # a few accented names: "Sávaré"
                    chars = list(name)
                    spots = [i for i, c in enumerate(chars) if c in _ACCENTS]
                    if spots:
                        i = rng.choice(spots)
                        chars[i] = _ACCENTS[chars[i]]
                    name = "".join(chars)
                keyed.append((len(name) + 2 + rng.gauss(0, 2.5), name.capitalize()))
        keyed.sort(key=lambda kw: kw[0])
        self.words: list[str] = list(FUNCTION_WORDS) + [w for _, w in keyed]
        self.rank = {w: r for r, w in enumerate(self.words)}
        weights = [1.0 / (r + 2.7) ** exponent for r in range(len(self.words))]
        self.cum = list(itertools.accumulate(weights))
        self.function = frozenset(FUNCTION_WORDS)

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum, k=k)

    def uniform_tail(self, rng: random.Random, start: int = 300) -> str:
        return self.words[rng.randrange(start, len(self.words))]


def number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.30:
        return str(rng.randint(1950, 2025))
    if kind < 0.55:
        return str(rng.randint(2, 99))
    if kind < 0.65:
        return f"{rng.randint(1, 20)}.{rng.randint(1, 9)}"
    value = rng.randint(1, 999) * rng.choice((10, 100, 1000))
    return f"{value:,}"


class CorpusWriter:
    def __init__(self, seed: int, vocabulary: int = 150_000) -> None:
        self.rng = random.Random(seed)
        self.vocab = Vocabulary(random.Random(seed * 7919 + 1), vocabulary)

    def paragraph(self, topic: list[str], min_words: int, max_words: int) -> str:
        rng, out = self.rng, []
        budget = rng.randint(min_words, max_words)
        while budget > 0:
            n = min(budget, rng.randint(9, 26))
            budget -= n
            words = self.vocab.draw(rng, n)
            for i in range(n):
                r = rng.random()
                if r < 0.07:
                    words[i] = rng.choice(topic)
                elif r < 0.085:
                    words[i] = number(rng)
                elif r < 0.13:
                    words[i] += ","
            words[-1] = words[-1].rstrip(",")
            out.append(words[0][:1].upper() + words[0][1:] + " " + " ".join(words[1:]) + ".")
        return " ".join(out)

    def article(
        self, paragraphs: int, min_words: int = 30, max_words: int = 90
    ) -> tuple[str, list[str]]:
        rng, vocab = self.rng, self.vocab
        topic = [vocab.uniform_tail(rng) for _ in range(6)]
        headline_words = rng.sample(topic, 3) + vocab.draw(rng, rng.randint(2, 5))
        rng.shuffle(headline_words)
        headline = " ".join(w[:1].upper() + w[1:] for w in headline_words)
        body = [self.paragraph(topic, min_words, max_words) for _ in range(paragraphs)]
        author = f"{vocab.uniform_tail(rng).capitalize()} {vocab.uniform_tail(rng).capitalize()}"
        date = f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        text = headline + "\n\n" + "\n\n".join(body) + f"\n\nauthor: {author}\ndate: {date}\n"
        return text, body


def article_path(root: Path, number: int) -> Path:
    return root / f"{number // 1000:04d}" / f"a{number:07d}.txt"


def article_number(path: str) -> int:
    return int(Path(path).stem[1:])


def write_corpus(
    root: Path,
    passages: int,
    *,
    seed: int = 7,
    queries: int = 200,
    warmup: int = 20,
    vocabulary: int = 150_000,
) -> dict:
    """Write ``passages`` paragraphs as article files under root/articles, the passages as
    root/passages.tsv (number TAB text), the queries as root/queries.json; return the manifest."""
    writer = CorpusWriter(seed, vocabulary)
    rng = writer.rng
    articles_dir = root / "articles"
    starts: list[int] = []
    total = 0
    with (root / "passages.tsv").open("w", encoding="utf-8") as tsv:
        while total < passages:
            n = min(rng.randint(10, 20), passages - total)
            text, body = writer.article(n)
            path = article_path(articles_dir, len(starts))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            starts.append(total)
            for i, para in enumerate(body):
                tsv.write(f"{total + i}\t{para}\n")
            total += n
    write_queries(root, writer.vocab, total, seed=seed, queries=queries, warmup=warmup)
    manifest = {
        "passages": total,
        "articles": len(starts),
        "starts": starts,
        "seed": seed,
        "vocabulary": len(writer.vocab.words),
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def write_queries(
    root: Path,
    vocab: Vocabulary,
    total: int,
    *,
    seed: int = 7,
    queries: int = 200,
    warmup: int = 20,
) -> None:
    """Pick target paragraphs from root/passages.tsv and write root/queries.json."""
    qrng = random.Random(seed * 31 + total)
    targets = qrng.sample(range(total), min(total, queries + warmup))
    wanted = set(targets)
    texts: dict[int, str] = {}
    with (root / "passages.tsv").open(encoding="utf-8") as tsv:
        for line in tsv:
            num, _, text = line.rstrip("\n").partition("\t")
            if int(num) in wanted:
                texts[int(num)] = text
    forms = word_forms(vocab.words)
    made = [asdict(make_query(qrng, vocab, t, texts[t], forms)) for t in targets]
    data = {"warmup": made[:warmup], "queries": made[warmup:]}
    (root / "queries.json").write_text(json.dumps(data))


def write_articles(
    root: Path, count: int, words: int, *, seed: int = 11, vocabulary: int = 150_000
) -> int:
    """Articles of about ``words`` words each (for the ingest-speed measurement); total words."""
    writer = CorpusWriter(seed, vocabulary)
    total = 0
    for n in range(count):
        paras = writer.rng.randint(6, 8)
        each = words // paras
        text, _ = writer.article(paras, each - 10, each + 10)
        path = article_path(root, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += len(text.split())
    return total


def _words(text: str) -> Iterator[str]:
    for raw in text.split():
        w = raw.strip(".,")
        if w:
            yield w


_PUNCT = "\"'.,;:!?()[]{}<>\u2018\u2019\u201c\u201d-\u2013\u2014"


def normalised(text: str) -> str:
    return " ".join(text.split())


def exact_words(text: str) -> set[str]:
    """The words a passage has, lower case, as typed: each space-separated token without the
    punctuation around it ("2,700", "britain's"), and its letter/digit runs ("britain")."""
    lowered = text.lower()
    words = {t.strip(_PUNCT) for t in lowered.split()}
    words.update(re.findall(r"[^\W_]+", lowered))
    words.discard("")
    return words


def make_query(
    rng: random.Random,
    vocab: Vocabulary,
    target: int,
    text: str,
    forms: dict[str, list[str]] | None = None,
    exact_rival: Callable[[list[str]], bool] | None = None,
) -> Query:
    """2-4 distinctive words of the target paragraph, clean and with typos (and, given the
    vocabulary's word forms, with one keyword in another form; ``exact_rival``: see
    ``with_word_form``)."""
    words = list(dict.fromkeys(w.lower() for w in _words(text)))
    content = [w for w in words if w.isalpha() and w not in vocab.function and len(w) >= 3]
    # Rarest first (a reporter types the distinctive words); prefer words long enough for typos.
    content.sort(key=lambda w: -vocab.rank.get(w, vocab.rank.get(w.capitalize(), 0)))
    long = [w for w in content if len(fold(w)) >= 5]
    pool = (long if len(long) >= 2 else content)[:6]
    if len(pool) < 2:
        pool = [w for w in words if w.isalpha()][:6]
    k = min(len(pool), rng.choices((2, 3, 4), weights=(35, 40, 25))[0])
    chosen = rng.sample(pool, k)
    numbers = [w for w in words if "," in w and w.replace(",", "").isdigit()]
    if numbers and rng.random() < 0.15:
        chosen[-1] = rng.choice(numbers)
    edits = 0
    typoed = []
    for w in chosen:
        t, e = add_typos(rng, w)
        typoed.append(t)
        edits += e
    query = Query(target, " ".join(chosen), " ".join(typoed), edits)
    if forms:
        content_words = [w for w in content if len(w) >= 4]
        query = with_word_form(query, chosen, content_words, pool, forms, set(words), exact_rival)
    return query


def with_word_form(
    query: Query,
    chosen: list[str],
    words: list[str],
    pool: list[str],
    forms: dict[str, list[str]],
    present: set[str],
    exact_rival: Callable[[list[str]], bool] | None = None,
) -> Query:
    """The query with one keyword in another regular form that the paragraph does not have,
    clean and with typos in the other words. ``words``: the paragraph's content words (no
    function words), which may be swapped in when no keyword has another form. Its own
    random stream (seeded by the target), so the clean and typo sets stay what they were.

    ``exact_rival(words)``: whether a passage other than the target (or its copies) has every
    word exactly as typed; given, a drawn form with such a rival is replaced by the first other
    keyword/form without one (in query order), when there is one. The random draws are the
    same either way, so the queries without a rival are the ones made without the check."""
    rng = random.Random(query.target * 7919 + 17)
    present = present | set(chosen)  # the paragraph's words: the new form is not among them
    chosen = list(chosen)

    def other_forms(w: str) -> list[str]:
        return [f for f in forms.get(w, ()) if f not in present]

    spots = [i for i, w in enumerate(chosen) if other_forms(w)]
    if not spots:  # swap in a distinctive word of the paragraph that has another form
        extra = [w for w in pool + words if w not in chosen and other_forms(w)]
        if not extra:
            return query
        chosen[rng.randrange(len(chosen))] = extra[0]
        spots = [i for i, w in enumerate(chosen) if other_forms(w)]
    i = rng.choice(spots)
    formed = list(chosen)
    formed[i] = rng.choice(other_forms(chosen[i]))
    if exact_rival is not None and exact_rival(formed):
        tries = (
            (j, [form if n == j else w for n, w in enumerate(chosen)])
            for j in spots
            for form in other_forms(chosen[j])
        )
        i, formed = next(((j, t) for j, t in tries if not exact_rival(t)), (i, formed))
    typoed = [w if j == i else add_typos(rng, w)[0] for j, w in enumerate(formed)]
    return replace(query, wordform=" ".join(formed), wordform_typo=" ".join(typoed))


def typo_budget(word: str) -> int:
    letters = fold(word)
    if not letters.isalpha() or len(letters) < 5:
        return 0
    return 1 if len(letters) < 9 else 2


def add_typos(rng: random.Random, word: str) -> tuple[str, int]:
    """The word with 1 typo (5-8 letters) or 1-2 typos (9+): insertion, deletion, substitution
    or transposition, nearby keys preferred. Returns (typed word, edits).

    The budget holds for the word as typed too (an engine only sees that one): "thiek" never
    becomes "thie", whose 4 letters get no typo tolerance."""
    budget = typo_budget(word)
    if budget == 0:
        return word, 0
    n = 1 if budget == 1 else rng.choice((1, 2))
    for _ in range(100):
        typed = word
        for _ in range(n):
            typed = _one_typo(rng, typed)
        if OSA.distance(word, typed) == n and n <= typo_budget(typed) and fold(typed) != fold(word):
            return typed, n
    return word, 0


def _one_typo(rng: random.Random, w: str) -> str:
    i = rng.randrange(len(w))
    op = rng.random()
    near = NEIGHBOURS.get(fold(w[i])[:1], "") or "etaoinshr"
    if op < 0.3:  # substitution
        return w[:i] + rng.choice(near) + w[i + 1 :]
    if op < 0.55:  # insertion
        return w[:i] + rng.choice(near) + w[i:]
    if op < 0.8:  # deletion
        return w[:i] + w[i + 1 :]
    if i == len(w) - 1:
        i -= 1
    return w[:i] + w[i + 1] + w[i] + w[i + 2 :]  # transposition


def passage_number(starts: list[int], path: str, paragraph: int) -> int:
    return starts[article_number(path)] + paragraph


def article_for(starts: list[int], passage: int) -> int:
    return bisect.bisect_right(starts, passage) - 1
