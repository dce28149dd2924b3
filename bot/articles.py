"""Reading article files: headline, standfirst, metadata, captions and body paragraphs.

Format (DESIGN.md section 2): line 1 is the headline; blocks are separated by blank lines; an
optional standfirst sits right under the headline; ``key: value`` lines for known keys may stand
anywhere after line 1 (also sharing a block with other lines); photo captions are kept apart.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bot.models import Article

MAX_FILE_BYTES = 5 * 1024 * 1024  # a news article is a few KB; anything this big is not one
META_KEYS = ("author", "editor", "source", "date", "url", "tend")
_META = re.compile(r"^\s*(author|editor|source|date|url|tend)\s*:\s*(\S.*?)\s*$", re.IGNORECASE)
_CAPTION = re.compile(
    r"^\s*FILE\s*[-–—]\s"  # AP style: "FILE - French soldiers ... (AP Photo/...)"
    r"|\((?:[^()]*\b)?(?:Photo|Photograph|Picture|Image)s?\b\s*(?:/|by|:)[^()]*\)\s*$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%a, %d %b %Y %H:%M:%S %z",
)


class ArticleError(ValueError):
    """A file that cannot be read as an article; the message says why."""


def parse_date(value: str) -> datetime | None:
    """An ISO or common news date (naive means UTC); None if it is not a date."""
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_unix_time(value: str) -> datetime | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not 0 < seconds < 32503680000:  # year 3000
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (BOM allowed), else cp1252 with a warning. Raises ArticleError for binary data.

    A UTF-8 file with a stray bad byte (say, cut in the middle of a character) stays UTF-8 with
    the bad bytes replaced: read as cp1252, every accented letter in it would be mangled.
    """
    if b"\x00" in data[:8192]:
        raise ArticleError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    as_utf8 = data.decode("utf-8-sig", errors="replace")
    bad = as_utf8.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = sum(b >= 0x80 for b in data)
    if bad * 2 < non_ascii:  # mostly valid multibyte sequences: UTF-8 with a few bad bytes
        return as_utf8, [f"not valid UTF-8 at byte {first_bad}: {bad} bad byte(s) replaced"]
    text = data.decode("cp1252", errors="replace")
    return text, [f"not valid UTF-8 (byte {first_bad}); read as cp1252"]


def _is_meta(line: str) -> tuple[str, str] | None:
    """(key, value) for a metadata line whose value fits its key, else None."""
    m = _META.match(line)
    if not m:
        return None
    key, value = m.group(1).lower(), m.group(2)
    if key == "tend" and parse_unix_time(value) is None:
        return None
    if key == "date" and parse_date(value) is None:
        return None
    if key == "url" and not re.match(r"^https?://\S+$", value):
        return None
    if key in ("author", "editor", "source") and (len(value) > 120 or _SENTENCE_END.search(value)):
        return None
    return key, value


def _is_caption(line: str) -> bool:
    """A photo caption line (``_CAPTION``). Its search scans the whole line; a line without a
    parenthesis or a dash, most of them, cannot match, and is let through at once."""
    if "(" not in line and "-" not in line and "–" not in line and "—" not in line:
        return False
    return _CAPTION.search(line) is not None


def parse_text(text: str, path: str) -> Article:
    """Parse an article's text. Raises ArticleError if there is no headline or no body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise ArticleError("empty file")
    title = " ".join(lines[0].split())
    meta: dict[str, str] = {}
    captions: list[str] = []
    blocks: list[tuple[str, bool]] = []  # (text, block had metadata right after it)
    current: list[str] = []

    def close_block() -> None:
        if current:
            blocks.append((_one_spaced(" ".join(current)), False))
            current.clear()

    for line in lines[1:]:
        if not line.strip():
            close_block()
            continue
        if ":" in line and (kv := _is_meta(line)) is not None:
            meta.setdefault(kv[0], kv[1])
            close_block()
            if blocks:
                blocks[-1] = (blocks[-1][0], True)
            continue
        if _is_caption(line):
            close_block()
            captions.append(" ".join(line.split()))
            continue
        current.append(line.strip())
    close_block()

    paragraphs = [b for b, _ in blocks if b]
    dek = None
    first, meta_after = blocks[0] if blocks else ("", False)
    if _looks_like_dek(first, followed_by_meta=meta_after, rest=len(blocks) > 1):
        dek = first
    if not paragraphs:
        raise ArticleError("no body text under the headline")

    published = None
    if "date" in meta:
        published = parse_date(meta["date"])
    if published is None and "tend" in meta:
        published = parse_unix_time(meta["tend"])
    return Article(
        path=path,
        title=title,
        paragraphs=tuple(paragraphs),
        dek=dek,
        author=meta.get("author"),
        editor=meta.get("editor"),
        source=meta.get("source"),
        url=meta.get("url"),
        published=published,
        captions=tuple(captions),
    )


def _one_spaced(text: str) -> str:
    """The text's words separated by single spaces (``text`` has no space at either end). Most
    paragraphs are that already: printable text (no whitespace but the ASCII space is) without
    two spaces in a row is kept as it is, not split into words and joined again."""
    if "  " not in text and text.isprintable():
        return text
    return " ".join(text.split())


def _looks_like_dek(block: str, *, followed_by_meta: bool, rest: bool) -> bool:
    """A standfirst: a short first block, not a full sentence or set off by metadata after it."""
    if not rest or len(block.split()) > 60:
        return False
    return followed_by_meta or not _SENTENCE_END.search(block)


def parse_article(path: str | Path, *, display_path: str | None = None) -> Article:
    """Read and parse one article file. Raises ArticleError (with the reason) if it is unusable."""
    return parse_bytes(read_article_bytes(path), display_path or str(path))


def read_article_bytes(path: str | Path) -> bytes:
    """An article file's bytes. Raises ArticleError if it is not a regular file, is empty, is
    too large or cannot be read."""
    p = Path(path)
    try:
        if not p.is_file():
            raise ArticleError("not a regular file")
        size = p.stat().st_size
        if size == 0:
            raise ArticleError("empty file")
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 1024
            raise ArticleError(f"too large ({size // 1024} KiB, the limit is {limit} KiB)")
        data = p.read_bytes()
    except OSError as exc:
        raise ArticleError(f"cannot read: {exc.strerror or exc}") from exc
    return data


def parse_bytes(data: bytes, path: str) -> Article:
    if not data.strip():
        raise ArticleError("empty file")
    text, warnings = decode(data)
    article = parse_text(text, path)
    if warnings:
        from dataclasses import replace

        article = replace(article, warnings=tuple(warnings))
    return article
