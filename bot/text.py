"""Word handling shared by indexing, querying and highlighting.

Text is folded (case, accents, width) and split into tokens the same way for the index, for a
query and for marking matched words, so "Sávaré" is found by "savare" and "2,700" by "2700".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator
from functools import lru_cache

import tantivy

# A number with thousands separators or decimals and its unit ("2,700", "3.5", "7.6m"), or a run
# of word characters ("42bn"). Currency and percent signs are not part of a token: "£42bn" is
# "42bn", "4.2%" is "4.2", as a reporter types them with or without the sign.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+[^\W\d_]*|\w+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
# Slack and terminals send curly apostrophes; "country's" is indexed as "country".
_POSSESSIVE = re.compile(r"['’]s\b")

MAX_TOKEN_LEN = 40
ONE_TYPO_FROM = 4  # letters a query word needs before one typo is forgiven
TWO_TYPOS_FROM = 9
NAME_TYPOS_FROM = 5  # a capitalised query word (a name) of this length gets one typo more

# Function words (the usual English list, as Lucene's and NLTK's): never highlighted, not
# required when a query has other words, and never what makes two passages related.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself""".split()
)
_GROUPED = re.compile(r"\d,\d")  # a number with a thousands separator, maybe


def stem_analyzer() -> tantivy.TextAnalyzer:
    """Whitespace-separated folded tokens -> their English stems: tantivy's own stemmer, which
    ``stem`` and ``stem_text`` run (the index's stem field gets its text stemmed by them)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


_STEMMER = stem_analyzer()


def fold(text: str) -> str:
    """Lower-case, strip accents and compatibility forms: 'Sávaré' -> 'savare'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def normalize_token(raw: str) -> str:
    # ASCII needs no Unicode decomposition: same result as fold(), several times faster.
    token = raw.lower() if raw.isascii() else fold(raw)
    if token[:1].isdigit():
        token = _THOUSANDS.sub("", token)
    return token[:MAX_TOKEN_LEN]


def iter_tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, folded token) with offsets into the original text."""
    for m in _TOKEN.finditer(text):
        token = _token(m.group())
        if token:
            yield m.start(), m.end(), token


def _token(raw: str) -> str:
    """The folded token of a raw match ('' when nothing is left)."""
    if raw.isascii() and raw.isalpha() and len(raw) <= MAX_TOKEN_LEN:  # most words: done
        return raw.lower()
    if "_" in raw:
        raw = raw.strip("_")
        if not raw:
            return ""
    return normalize_token(raw)


def tokens(text: str) -> list[str]:
    """The folded tokens of a text (as ``iter_tokens``, without offsets).

    The hot path of indexing and re-ranking: ASCII text (most news copy) is lower-cased whole,
    which keeps its words as they are, so only thousands separators ("2,700"), underscores and
    overlong runs need a second look; in other text only the non-ASCII words are folded."""
    if "'" in text or "’" in text:
        text = _POSSESSIVE.sub("", text)
    ascii_text = text.isascii()
    if ascii_text and "_" not in text:
        found = _ascii_tokens(text.lower())
        if max(map(len, found), default=0) <= MAX_TOKEN_LEN:
            return found
    found = _TOKEN.findall(text.lower() if ascii_text else text)
    if "_" in text or max(map(len, found), default=0) > MAX_TOKEN_LEN:
        return [t for t in map(_token, found) if t]
    if not ascii_text:
        found = [t.lower() if t.isascii() else normalize_token(t) for t in found]
    if _GROUPED.search(text) is None:
        return found
    return _ungrouped(found)


def _ungrouped(found: list[str]) -> list[str]:
    """Tokens without thousands separators: only number tokens hold a comma ("2,700" -> "2700";
    "1,5" stays)."""
    return [_THOUSANDS.sub("", t) if "," in t else t for t in found]


# ASCII text split by str methods instead of the token regex (several times faster): every
# character that no token has becomes a space; in _ASCII_RUNS "." and "," stay, as a number
# may hold them.
_ASCII_WORDS = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()})
_ASCII_RUNS = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) in ".,")}
)
_SEPARATED = re.compile(r"\d[.,]\d")  # a number with a separator or decimals, maybe


def _ascii_tokens(lower: str) -> list[str]:
    """``tokens`` of lower-cased ASCII text without underscores. Without a digit, separator,
    digit anywhere the tokens are the runs of letters and digits; else the runs with "." or ","
    go through the token regex one by one (a token never spans another character, so a run
    has the same tokens alone as in its text)."""
    if _SEPARATED.search(lower) is None:
        return lower.translate(_ASCII_WORDS).split()
    found: list[str] = []
    for run in lower.translate(_ASCII_RUNS).split():
        if "." in run or "," in run:
            found += _ungrouped(_TOKEN.findall(run))
        else:
            found.append(run)
    return found


def index_text(text: str) -> str:
    """The whitespace-joined token string the index stores for a text."""
    return " ".join(tokens(text))


def edit_budget(token: str) -> int:
    """Typos forgiven for a query word: none under 4 letters, 1 for 4-8, 2 from 9 (Meilisearch's
    rule with 4-letter words let in: they get their typo only when the exact query found
    nothing)."""
    if not token.isalpha() or len(token) < ONE_TYPO_FROM:
        return 0
    return 1 if len(token) < TWO_TYPOS_FROM else 2


def query_budget(token: str, typed: str) -> int:
    """The budget of a query word as typed: a capitalised word is likely a name, and names are
    spelt in more ways than ordinary words (Gadaffi / Gaddafi), so it gets one typo more."""
    budget = edit_budget(token)
    if budget == 1 and len(token) >= NAME_TYPOS_FROM and typed[:1].isupper():
        return 2
    return budget


def stem_text(token: str) -> str:
    """What the index's stem analyzer makes of a text, whitespace-joined: for one word of an
    index text (no whitespace in it) its stem, exactly as the analyzer would index it."""
    return " ".join(_STEMMER.analyze(token))


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The English (Snowball / Porter2) stem of a folded token: tantivy's own stemmer, the one
    the index's stemmed field uses, so query and index agree."""
    found = _STEMMER.analyze(token)
    return found[0] if found else token


def word_spans(text: str, wanted: Collection[str]) -> tuple[tuple[int, int], ...]:
    """Character spans of the words of ``text`` whose folded token is in ``wanted`` (as
    ``iter_tokens`` would find them; ASCII text takes a shortcut, as in ``tokens``)."""
    if text.isascii():
        lower = text.lower()
        if "_" not in text and all(_plain(w) for w in wanted):
            # Words of letters only: find each where it stands as a whole token.
            return tuple(sorted(span for w in wanted for span in find_word(lower, w)))
        matches = _TOKEN.finditer(lower)
    else:
        matches = _TOKEN.finditer(text)
    found = []
    for m in matches:
        raw = m.group()
        # An ASCII word is its own token, lower-cased (most words: no _token call).
        if raw.isascii() and raw.isalpha() and len(raw) <= MAX_TOKEN_LEN:
            if raw.lower() in wanted:
                found.append(m.span())
        elif _token(raw) in wanted:
            found.append(m.span())
    return tuple(found)


def _plain(word: str) -> bool:
    """A token that is a run of ASCII letters, shorter than the longest token."""
    return len(word) < MAX_TOKEN_LEN and word.isascii() and word.isalpha()


def find_word(lower: str, word: str) -> Iterator[tuple[int, int]]:
    """Where the word stands in lower-cased ASCII text as a whole token (not inside another)."""
    start = lower.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not _word_char(lower[start - 1])) and (
            end == len(lower) or not _word_char(lower[end])
        ):
            yield start, end
        start = lower.find(word, end)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"
