"""Word handling shared by indexing, querying and highlighting.

Text is folded (case, accents, width) and split into tokens the same way for the index, for a
query and for marking matched words, so "Sávaré" is found by "savare" and "2,700" by "2700".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from rapidfuzz.distance import OSA

# A number with thousands separators or decimals ("2,700", "3.5"), or a run of word characters.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
# Slack and terminals send curly apostrophes; "country's" is indexed as "country".
_POSSESSIVE = re.compile(r"['’]s\b")

MAX_TOKEN_LEN = 40


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
        raw = m.group()
        if raw == "_" * len(raw):
            continue
        token = normalize_token(raw.strip("_"))
        if token:
            yield m.start(), m.end(), token


def tokens(text: str) -> list[str]:
    """The folded tokens of a text (as ``iter_tokens``, without offsets: this is the hot path
    of indexing and re-ranking, so it avoids match objects)."""
    out = []
    for raw in _TOKEN.findall(_POSSESSIVE.sub("", text)):
        if "_" in raw:
            raw = raw.strip("_")
            if not raw:
                continue
        token = normalize_token(raw)
        if token:
            out.append(token)
    return out


def index_text(text: str) -> str:
    """The whitespace-joined token string the index stores for a text."""
    return " ".join(tokens(text))


def edit_budget(token: str) -> int:
    """Typos forgiven for a query word: none under 5 letters, 1 for 5-8, 2 from 9 (Meilisearch)."""
    if not token.isalpha():
        return 0
    if len(token) < 5:
        return 0
    if len(token) < 9:
        return 1
    return 2


def distance(a: str, b: str) -> int:
    """Edit distance where swapping two neighbouring letters counts as one edit."""
    return OSA.distance(a, b)


def matches(query_token: str, token: str) -> int | None:
    """Edits between a query word and a text word if within the query word's budget, else None."""
    if query_token == token:
        return 0
    budget = edit_budget(query_token)
    if budget == 0 or abs(len(query_token) - len(token)) > budget:
        return None
    d = OSA.distance(query_token, token, score_cutoff=budget)
    return d if d <= budget else None


def highlight_spans(text: str, query_tokens: list[str]) -> tuple[tuple[int, int], ...]:
    """Character spans of the words in ``text`` that match any query word (exactly or by typo)."""
    wanted = set(query_tokens)
    spans = []
    for start, end, token in iter_tokens(text):
        if token in wanted or any(matches(q, token) is not None for q in wanted):
            spans.append((start, end))
    return tuple(spans)
