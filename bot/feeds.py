"""Articles from RSS and Atom feeds: one bounded, conditional fetch per feed, entries -> Articles.

A feed article has no file. Its identity is the feed entry's id (or its link when the feed gives
no id), kept in the store under a ``feed:`` key that no folder rescan ever counts as removed.
Parsing is feedparser's (RSS 0.9x/1.0/2.0, Atom; it sanitises entry HTML); entry HTML becomes
paragraphs with inscriptis, which lays block elements out as blank-line separated text.
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.error
import urllib.request
from calendar import timegm
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax import SAXException

import feedparser
from inscriptis import get_text

from bot.models import Article

FEED_KEY_PREFIX = "feed:"
MAX_FEED_BYTES = 10 * 1024 * 1024  # a busy feed is a few hundred KB
FETCH_TIMEOUT_S = 20.0
USER_AGENT = "newsroom-bot (feed reader)"
_BLANK_LINES = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"[ \t\u00a0]+")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry as an article, with the key it is stored under and a digest of its content."""

    key: str
    article: Article
    digest: str


@dataclass(slots=True)
class FeedFetch:
    """What one poll of one feed gave: new validators, entries, or one line saying what failed."""

    url: str
    status: str  # "ok", "not modified" or "error"
    entries: list[FeedEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry, reason)
    etag: str | None = None
    modified: str | None = None
    message: str = ""
    took_ms: float = 0.0


def feed_key(entry_id: str) -> str:
    return FEED_KEY_PREFIX + entry_id


def is_feed_key(key: str) -> bool:
    return key.startswith(FEED_KEY_PREFIX)


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    modified: str | None = None,
    timeout: float = FETCH_TIMEOUT_S,
    max_bytes: int = MAX_FEED_BYTES,
) -> FeedFetch:
    """GET the feed with If-None-Match / If-Modified-Since and parse it. Never raises for a
    network, HTTP or format problem: the result's ``status`` is "error" and ``message`` says why."""
    started = time.perf_counter()
    result = FeedFetch(url=url, status="error", etag=etag, modified=modified)
    try:
        body, headers = _get(url, etag, modified, timeout, max_bytes)
    except _NotModified:
        result.status, result.message = "not modified", "not modified since the last poll"
    except FeedFetchError as exc:
        result.message = str(exc)
    else:
        result.etag = headers.get("ETag") or etag
        result.modified = headers.get("Last-Modified") or modified
        try:
            result.entries, result.skipped = parse_feed(body, url)
            result.status = "ok"
            result.message = f"{len(result.entries)} entries"
        except FeedFetchError as exc:
            result.message = str(exc)
    result.took_ms = round((time.perf_counter() - started) * 1000, 1)
    return result


class FeedFetchError(Exception):
    """A feed that could not be fetched or read; the message is one line for the user."""


class _NotModified(Exception):
    pass


def _get(
    url: str, etag: str | None, modified: str | None, timeout: float, max_bytes: int
) -> tuple[bytes, Any]:
    if not url.lower().startswith(("http://", "https://")):
        raise FeedFetchError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if etag:
        request.add_header("If-None-Match", etag)
    if modified:
        request.add_header("If-Modified-Since", modified)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FeedFetchError(f"feed too large ({int(declared)} bytes, limit {max_bytes})")
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FeedFetchError(f"feed too large (over {max_bytes} bytes)")
            return body, response.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            raise _NotModified from None
        raise FeedFetchError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FeedFetchError(f"cannot reach the feed: {exc.reason}") from None
    except TimeoutError:
        raise FeedFetchError(f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise FeedFetchError(f"connection failed: {exc.strerror or exc}") from None


def parse_feed(body: bytes, url: str) -> tuple[list[FeedEntry], list[tuple[str, str]]]:
    """Entries of an RSS or Atom document as articles; entries with no text are skipped."""
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    problem = parsed.get("bozo_exception")
    if isinstance(problem, SAXException) or (parsed.bozo and not parsed.entries):
        # Read leniently, a cut or broken document gives cut entries: take none of them.
        reason = " ".join(str(problem or "unknown error").split())[:200]
        raise FeedFetchError(f"not well-formed RSS or Atom, nothing taken from it ({reason})")
    if not parsed.get("version") and not parsed.entries:
        raise FeedFetchError("not an RSS or Atom feed")
    source = _plain(parsed.feed.get("title", "")) or None
    entries: list[FeedEntry] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in parsed.entries:
        entry_id = (raw.get("id") or raw.get("link") or "").strip()
        title = _plain(raw.get("title", ""))
        label = title or entry_id or "(untitled entry)"
        if not entry_id:
            skipped.append((label, "entry has neither an id nor a link"))
            continue
        if entry_id in seen:
            continue
        seen.add(entry_id)
        paragraphs = _paragraphs(_entry_html(raw))
        if not paragraphs:
            skipped.append((label, "entry has no text"))
            continue
        link = raw.get("link") or None
        article = Article(
            path=link or entry_id,
            title=title or paragraphs[0][:120],
            paragraphs=tuple(paragraphs),
            author=_plain(raw.get("author", "")) or None,
            source=source,
            url=link,
            published=_entry_time(raw),
        )
        entries.append(FeedEntry(feed_key(entry_id), article, _digest(article)))
    return entries, skipped


def _entry_html(raw: Any) -> str:
    """The entry's fullest text: its content, else its summary."""
    for content in raw.get("content") or ():
        value = content.get("value") if isinstance(content, dict) else None
        if value and value.strip():
            return str(value)
    return str(raw.get("summary") or raw.get("description") or "")


def _paragraphs(html: str) -> list[str]:
    text = get_text(html) if "<" in html else html
    out = []
    for block in _BLANK_LINES.split(text):
        line = _SPACES.sub(" ", " ".join(part.strip() for part in block.splitlines())).strip()
        if line:
            out.append(line)
    return out


def _plain(value: str) -> str:
    text = get_text(value) if "<" in value else value
    return _SPACES.sub(" ", " ".join(text.split())).strip()


def _entry_time(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            try:
                return datetime.fromtimestamp(timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _digest(article: Article) -> str:
    parts = [
        article.title,
        article.author or "",
        article.url or "",
        article.published.isoformat() if article.published else "",
        *article.paragraphs,
    ]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()
