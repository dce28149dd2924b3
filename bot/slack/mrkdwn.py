"""Slack mrkdwn: escaping text the bot did not write, reading text Slack sent, and highlighting.

``&``, ``<`` and ``>`` are Slack's control characters: any article text or user query goes through
``escape`` before it reaches a message, so ``<!channel>`` or ``<@U123>`` in an article is shown
literally and pings nobody. Quotes are not HTML-escaped (Slack does not expect that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPE_RE = re.compile(r"[&<>]")
# <@U123>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S1|@team>, <http://x|label>
_MARKUP_RE = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Escape Slack's control characters; nothing else."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], text)


def unescape(text: str) -> str:
    """Undo Slack's escaping of ``&``, ``<`` and ``>`` (``&amp;`` last, so ``&amp;lt;`` stays)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_from_slack(text: str) -> str:
    """Text a user typed in Slack, as plain words: mentions and special tokens dropped, channel
    names and link labels kept, escapes undone."""

    def repl(m: re.Match[str]) -> str:
        kind, target, label = m.group(1), m.group(2), m.group(3)
        if kind in ("@", "!"):
            return ""
        if kind == "#":
            return label or ""
        return label if label is not None else target

    return " ".join(unescape(_MARKUP_RE.sub(repl, text)).split())


def user_mention(user_id: str | None) -> str:
    """``<@U123>`` for a well-formed user id; anything else is shown escaped, never as markup."""
    if user_id and _USER_ID_RE.match(user_id):
        return f"<@{user_id}>"
    return escape(user_id or "someone")


def channel_mention(channel_id: str) -> str:
    """``<#C123>`` for a well-formed channel id; anything else escaped, without control
    characters (each is six characters of JSON: a long run pushed the note out of the message)."""
    if re.fullmatch(r"[CG][A-Z0-9]{2,}", channel_id):
        return f"<#{channel_id}>"
    return escape(truncate(re.sub(r"[\x00-\x1f\x7f]", "", channel_id), 200))


def safe_url(url: str | None) -> str | None:
    """A URL that can sit inside ``<url|label>`` markup, or None."""
    if not url or not re.match(r"^https?://[^\s<>|]+$", url):
        return None
    return url.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """``<url|label>`` with the label escaped; just the escaped label if the url is unusable."""
    target = safe_url(url)
    text = escape(label)
    return f"<{target}|{text}>" if target else text


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary when one is close, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def cut_mrkdwn(text: str, limit: int) -> str:
    """Mrkdwn (already escaped) cut to ``limit`` characters without splitting an escape such as
    ``&amp;`` or the bot's own ``<...>`` markup: a split one would leave a bare ``&`` or ``<``."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    amp, semi = cut.rfind("&"), cut.rfind(";")
    if amp > semi:
        cut = cut[:amp]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut + ELLIPSIS


def truncate_escaped(text: str, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters without splitting an escape."""
    raw = truncate(text, limit)  # escaping never shortens, so this much is needed at most
    while len(escape(raw)) > limit and len(raw) > 1:
        over = len(escape(raw)) - limit
        raw = truncate(raw, max(1, len(raw) - max(1, over // 5)))
    out = escape(raw)
    return out if len(out) <= limit else ""


Spans = Sequence[tuple[int, int]]


def _clean_spans(text: str, spans: Spans) -> list[tuple[int, int]]:
    """Sorted, in-range, non-overlapping spans with surrounding whitespace trimmed."""
    out: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def window(text: str, spans: Spans, max_chars: int) -> tuple[str, list[tuple[int, int]]]:
    """Cut ``text`` to about ``max_chars`` around its first span; shift the spans to match.

    The cut falls on word boundaries and is marked with ellipses.
    """
    clean = _clean_spans(text, spans)
    if len(text) <= max_chars:
        return text, clean
    first = clean[0][0] if clean else 0
    start = max(0, first - max_chars // 4)
    if start > 0:
        space = text.find(" ", start, first) if first > start else -1
        start = space + 1 if space != -1 else start
    end = min(len(text), start + max_chars - 2)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + max_chars // 2 else end
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    body = text[start:end]
    shift = len(prefix) - start
    shifted = [
        (max(s, start) + shift, min(e, end) + shift) for s, e in clean if e > start and s < end
    ]
    return prefix + body + suffix, shifted


def highlight(text: str, spans: Spans) -> str:
    """Escape ``text`` and wrap each span in ``*bold*``.

    Escaping happens piece by piece, so span offsets (into the raw text) stay correct however
    many characters the escapes add. Asterisks inside a bold span would end it early, so they
    are replaced there by a look-alike.
    """
    out: list[str] = []
    pos = 0
    for start, end in _clean_spans(text, spans):
        out.append(escape(text[pos:start]))
        out.append("*" + escape(text[start:end]).replace("*", "∗") + "*")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def excerpt(text: str, spans: Spans, *, max_chars: int, limit: int) -> str:
    """A highlighted, escaped excerpt of at most ``limit`` characters once rendered.

    Starts from a window of ``max_chars`` raw characters and shrinks it while escapes and bold
    markers push the rendered text over ``limit``.
    """
    text = re.sub(r"\s", " ", text)  # one for one, so span offsets still hold
    size = max(1, max_chars)
    while True:
        cut, shifted = window(text, spans, size)
        rendered = highlight(cut, shifted)
        if len(rendered) <= limit or size <= 1:
            return rendered[:limit] if len(rendered) > limit else rendered
        size = max(1, min(size - 1, size * limit // len(rendered)))
