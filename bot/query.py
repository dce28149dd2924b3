"""The query syntax shared by Slack, DMs and the CLI.

    wagner mali                 keywords (every one must match, typos and word forms forgiven)
    "prime minister"            an exact phrase
    -wagner                     no passage with this word (in any form)
    -"former colony"            no passage with this phrase (-al-qaeda: with "al qaeda")
    by:brooke  author:brooke    only articles whose byline matches (typos forgiven)
    after:2023-09-01            articles published (else first seen) on or after that day
    before:2023-09-30           ... on or before that day

Anything else is keywords: ``AND``, ``*``, ``NEAR(`` and unknown ``word:`` prefixes are words.
A malformed filter gives ``ParsedQuery.error``, one line saying how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.text import tokens

MAX_PHRASES = 4
MAX_EXCLUDED = 12
MAX_AUTHORS = 4

# A quoted phrase (an unclosed quote runs to the end), a filter, an exclusion, or other text.
_PART = re.compile(
    r"""(?P<neg>-?)"(?P<phrase>[^"]*)"?"""
    r"""|(?<![^\s])(?P<key>by|author|after|before):(?:"(?P<qval>[^"]*)"?|(?P<val>\S*))"""
    r"""|(?<![^\s])-(?P<exclude>[^\s"]+)""",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

DATE_HINT = "{key}: needs a date written YYYY-MM-DD, e.g. {key}:2023-09-01."
NAME_HINT = '{key}: needs a name, e.g. by:brooke or by:"thomas brooke".'
ORDER_HINT = "after:{after} is later than before:{before}: nothing can match both."


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str  # the keywords, as typed (phrases and filters taken out)
    phrases: tuple[tuple[str, ...], ...] = ()  # folded tokens of each phrase
    excluded: tuple[str, ...] = ()  # folded tokens no passage may have
    excluded_phrases: tuple[tuple[str, ...], ...] = ()  # folded tokens of each, in order
    authors: tuple[str, ...] = ()  # folded tokens every byline must match
    after: date | None = None
    before: date | None = None
    error: str | None = None

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.after or self.before)


_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"'})  # Slack and phones type these


def parse_query(query: str) -> ParsedQuery:
    """Split a query into keywords, phrases, exclusions and filters (never raises)."""
    query = query.translate(_CURLY)
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    excluded_phrases: list[tuple[str, ...]] = []
    authors: list[str] = []
    dates: dict[str, date] = {}
    error = None
    last = 0
    for m in _PART.finditer(query):
        words.append(query[last : m.start()])
        last = m.end()
        left_out = m.group("exclude")  # -word, or -"a phrase":
        if m.group("phrase") is not None and m.group("neg"):
            left_out = m.group("phrase")
        if left_out is not None:
            found = tuple(tokens(left_out))
            # One word, or a phrase: -"former colony", and -al-qaeda or -covid-19 (one term).
            if len(found) > 1:
                excluded_phrases.append(found)
            else:
                excluded.extend(found)
        elif m.group("phrase") is not None:
            found = tuple(tokens(m.group("phrase")))
            if len(found) == 1:
                words.append(" " + m.group("phrase") + " ")  # one word: a keyword like any other
            elif found and len(phrases) < MAX_PHRASES:
                phrases.append(found)
        else:
            key = m.group("key").lower()
            value = m.group("qval") if m.group("qval") is not None else m.group("val")
            if key in ("by", "author"):
                names = tokens(value)
                if not names:
                    error = error or NAME_HINT.format(key=key)
                authors.extend(names)
            else:
                day = _parse_date(value)
                if day is None:
                    error = error or DATE_HINT.format(key=key)
                else:
                    dates[key] = day
    words.append(query[last:])
    after, before = dates.get("after"), dates.get("before")
    if after and before and after > before:
        error = error or ORDER_HINT.format(after=after, before=before)
    return ParsedQuery(
        text=" ".join(" ".join(words).split()),
        phrases=tuple(phrases),
        excluded=tuple(dict.fromkeys(excluded))[:MAX_EXCLUDED],
        excluded_phrases=tuple(dict.fromkeys(excluded_phrases))[:MAX_PHRASES],
        authors=tuple(dict.fromkeys(authors))[:MAX_AUTHORS],
        after=after,
        before=before,
        error=error,
    )


def _parse_date(value: str) -> date | None:
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
