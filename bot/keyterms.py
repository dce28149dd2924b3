"""The key terms of a piece of text (a Slack message), to search the archive for it.

Names and numbers say most about what a message is about, then long words; stop words and
repeats are dropped. The search then ranks passages by how many of the terms they hold.
"""

from __future__ import annotations

import re

from bot.text import STOP_WORDS

MAX_TERMS = 6
_EMOJI = re.compile(r":[a-z0-9_+'-]+:")
_MID_SENTENCE = re.compile(r"[^.!?]$")
_WORD = re.compile(r"[£$€]?[^\W_](?:[\w'’.,£$€-]*[^\W_])?%?", re.UNICODE)


def key_terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """Up to ``limit`` terms of ``text``: capitalised words and numbers first, then the longest."""
    text = _EMOJI.sub(" ", text)
    seen: set[str] = set()
    scored: list[tuple[int, int, str]] = []
    for order, match in enumerate(_WORD.finditer(text)):
        word = match.group().strip(".,'’-")
        folded = word.lower()
        number = any(c.isdigit() for c in word)
        if (len(folded) < 3 and not number) or folded in STOP_WORDS or folded in seen:
            continue
        seen.add(folded)
        # Sentence starts are capitalised too: there a capital says nothing.
        sentence_start = not _MID_SENTENCE.search(text[: match.start()].rstrip() or ".")
        name = word[0].isupper() and (not sentence_start or word.isupper())
        weight = 2 if name or number else 0
        scored.append((-(weight * 100 + min(len(folded), 12)), order, word))
    best = sorted(scored)[:limit]
    return [word for _, _, word in sorted(best, key=lambda t: t[1])]
