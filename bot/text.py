"""Word handling shared by indexing, querying and highlighting.

Text is folded (case, accents, width) and split into tokens the same way for the index, for a
query and for marking matched words, so "Sávaré" is found by "savare" and "2,700" by "2700".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
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
    ``stem`` and ``stems`` run (the vocabulary keeps each word's stem: bot.vocabulary)."""
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

    A hot path of indexing and re-ranking: see ``_pieces``."""
    found: list[str] = []
    for piece in _pieces(text):
        found += piece.split() if isinstance(piece, str) else piece
    return found


def index_text(text: str) -> str:
    """The text as the index reads it: its tokens, separated by whitespace (the index's
    tokenizer splits on whitespace, so a run of it is one separator). The hot path of
    indexing: for most news copy no token is made one by one (``_pieces``)."""
    return " ".join(p if isinstance(p, str) else " ".join(p) for p in _pieces(text))


# Text is split by bytes methods where it can be: bytes.translate is a table lookup, several
# times faster than str.translate or the token regex. _SHAPE shows what each character of the
# text, encoded one byte a character, can be in a token: "a" a letter or digit, "." a
# separator inside a number ("2,700", "7.6m") if it stands between two digits, "!" a character
# only the token regex can judge (an underscore; "?", which stands for any character outside
# ASCII), " " nothing (a token never spans it). _ASCII_WORDS makes plain ASCII its tokens in one
# pass: letters lower-cased, digits kept, every other character a space.
_SHAPE = bytes(
    97 if chr(c).isalnum() and c < 128 else 46 if c in b".," else 33 if c in b"_?" else 32
    for c in range(256)
)
_ASCII_WORDS = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() and c < 128 else 32 for c in range(256)
)
_OVERLONG = b"a" * (MAX_TOKEN_LEN + 1)


def _pieces(text: str) -> list[str | list[str]]:
    """The tokens of a text, in order, in pieces: a str is plain ASCII words separated by
    whitespace (every other character a space), a list the tokens of a run that needs the
    token regex (``_regex_runs``): a number with a separator, an underscore, a character
    outside ASCII, an overlong word. Possessives are dropped first."""
    if "'" in text or "’" in text:
        text = _POSSESSIVE.sub("", text)
    raw = text.encode("ascii", "replace")  # one byte a character: offsets stay the text's
    pieces: list[str | list[str]] = []
    done = 0
    for start, end in _regex_runs(raw):
        pieces.append(raw[done:start].translate(_ASCII_WORDS).decode("ascii"))
        pieces.append(_regex_tokens(text[start:end]))
        done = end
    pieces.append(raw[done:].translate(_ASCII_WORDS).decode("ascii"))
    return pieces


def _regex_runs(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of the runs of ``raw`` (between characters that no token holds) that
    the token regex must split: as the regex never matches across such a character, a run has
    the same tokens alone as in its text."""
    shape = raw.translate(_SHAPE)
    marks = _find_all(shape, b"!")
    # A separator between two digits (in the shape, between two "a").
    marks += [at for at in _find_all(shape, b"a.a") if raw[at] < 58 and raw[at + 2] < 58]
    if _OVERLONG in shape:
        marks += _find_all(shape, _OVERLONG)
    if not marks:
        return []
    marks.sort()
    runs = []
    end = 0
    for at in marks:
        if at < end:  # in the run just taken
            continue
        start = shape.rfind(b" ", 0, at) + 1
        end = shape.find(b" ", at)
        end = len(shape) if end < 0 else end
        runs.append((start, end))
    return runs


def _find_all(data: bytes, needle: bytes) -> list[int]:
    """Where ``needle`` starts in ``data``, each occurrence (overlaps included)."""
    found = []
    at = data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _regex_tokens(text: str) -> list[str]:
    """``tokens`` by the token regex, token by token (a text without possessives)."""
    ascii_text = text.isascii()
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


def stems(words: Sequence[str]) -> list[str]:
    """``stem`` of each of the words (folded tokens without whitespace), in one call to the
    stemmer."""
    found = _STEMMER.analyze(" ".join(words))
    if len(found) != len(words):  # an empty word: the analyzer has no token for it
        return [stem(w) for w in words]
    return found


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
