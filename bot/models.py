"""Plain data passed between the core and its adapters (Slack, CLI). No Slack here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Article:
    """A parsed article file.

    ``paragraphs`` are the searchable body blocks in order; the standfirst (dek), when there is
    one, is paragraph 0. Metadata lines and photo captions are never paragraphs.
    """

    path: str
    title: str
    paragraphs: tuple[str, ...]
    dek: str | None = None
    author: str | None = None
    editor: str | None = None
    source: str | None = None
    url: str | None = None
    published: datetime | None = None  # timezone-aware (UTC) when known
    captions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the archive holds it: the parsed fields plus its id and first-seen time."""

    id: int
    path: str
    title: str
    dek: str | None
    author: str | None
    editor: str | None
    source: str | None
    url: str | None
    published: datetime | None
    first_seen: datetime
    captions: tuple[str, ...] = ()

    @property
    def byline(self) -> str | None:
        """ "Author, Source" or whichever of the two is known."""
        parts = [p for p in (self.author, self.source or self.editor) if p]
        return ", ".join(parts) or None


@dataclass(frozen=True, slots=True)
class Passage:
    id: int
    article_id: int
    position: int  # 0-based index among the article's paragraphs
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a passage, its article, a score and the spans to highlight."""

    article: StoredArticle
    paragraph: int
    text: str
    score: float
    spans: tuple[tuple[int, int], ...] = ()  # (start, end) character offsets into ``text``
    passage_id: int = 0


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    took_ms: float
    corrected: str | None = None  # the query as corrected ("did you mean"), when a word was fixed
    hint: str | None = None  # a helpful message when nothing (or little) matched
    offset: int = 0
    has_more: bool = False


@dataclass(slots=True)
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, warning)
    took_ms: float = 0.0
    new_ids: list[int] = field(default_factory=list)  # articles first seen in this ingest

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True, slots=True)
class Follow:
    """A user's saved query: new articles with a matching passage are sent to them."""

    id: int
    user_id: str
    query: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeskChannel:
    """A channel subscribed to the daily digest, with the query its stories must match ('' for
    every story)."""

    channel: str
    query: str
