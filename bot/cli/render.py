"""What the command line prints: hits, ingest reports and digests for people, JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from bot.models import Hit, IngestReport, SearchResult

if TYPE_CHECKING:  # imported lazily at run time: each command loads only what it needs
    from collections.abc import Callable

    from bot.digest.delivery import DigestPreview


def progress(stream: TextIO) -> Callable[[int, int], None] | None:
    """A progress line on a terminal, for ingests big enough to wait for."""
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total >= 200 and (done % 50 == 0 or done == total):
            end = "\n" if done == total else ""
            print(f"\rreading articles: {done}/{total}", end=end, file=stream, flush=True)

    return show


def print_ingest_report(report: IngestReport, out: TextIO) -> None:
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, removed "
        f"{len(report.removed)}, unchanged {report.unchanged}, skipped {len(report.skipped)}"
        f" ({report.took_ms:.0f} ms)",
        file=out,
    )
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}", file=out)
    for path, warning in report.warnings:
        print(f"  warning {path}: {warning}", file=out)


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "title": hit.article.title,
        "path": hit.article.path,
        "paragraph": hit.paragraph,
        "text": hit.text,
        "score": hit.score,
        "author": hit.article.author,
        "published": hit.article.published.isoformat() if hit.article.published else None,
        "url": hit.article.url,
        "source": hit.article.source,
    }


def result_json(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "corrected": result.corrected,
        "hits": [hit_json(h) for h in result.hits],
        "hint": result.hint,
        "took_ms": result.took_ms,
    }


def marked(text: str, spans: Sequence[tuple[int, int]], bold: bool) -> str:
    start_mark, end_mark = ("\033[1m", "\033[0m") if bold else ("**", "**")
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start] + start_mark + text[start:end] + end_mark)
        last = end
    out.append(text[last:])
    return "".join(out)


def print_result(result: SearchResult, out: TextIO, totals: dict[int, int] | None = None) -> None:
    """Hits for people: positions 1-based ("paragraph 3 of 9"), as in Slack; JSON stays 0-based."""
    totals = totals or {}
    bold = out.isatty()
    if result.corrected:
        print(f"Did you mean: {result.corrected}", file=out)
    if not result.hits:
        print(result.hint or "No results.", file=out)
        return
    for n, hit in enumerate(result.hits, result.offset + 1):
        a = hit.article
        byline = " · ".join(
            x for x in (a.byline, a.published.date().isoformat() if a.published else None) if x
        )
        print(f"{n}. {a.title}" + (f" ({byline})" if byline else ""), file=out)
        total = totals.get(a.id)
        where = f"paragraph {hit.paragraph + 1}" + (f" of {total}" if total else "")
        print(f"   {a.path}, {where} · score {hit.score:.2f}", file=out)
        print(f"   {marked(hit.text, hit.spans, bold)}", file=out)
        print(file=out)
    if result.hint:
        print(result.hint, file=out)
    print(f"({len(result.hits)} hits in {result.took_ms:.1f} ms)", file=out)


def print_digest(preview: DigestPreview, out: TextIO) -> None:
    digest = preview.content
    channels = ", ".join(preview.channels) or "no DIGEST_CHANNEL set"
    print(
        f"Digest for {preview.digest_date} ({channels}): articles first seen "
        f"{preview.since:%Y-%m-%d %H:%M} to {preview.until:%Y-%m-%d %H:%M} UTC",
        file=out,
    )
    if not digest.stories:
        print("Nothing new.", file=out)
        return
    for n, story in enumerate(digest.stories, 1):
        print(f"\n{n}. {story.headline}", file=out)
        for sentence in story.summary:
            print(f"   {sentence}", file=out)
        if story.disagreements:
            lines = "; ".join(d.line() for d in story.disagreements)
            print(f"   Sources differ: {lines}", file=out)
        for source in story.sources:
            byline = " · ".join(
                x
                for x in (
                    source.byline,
                    source.published.date().isoformat() if source.published else None,
                )
                if x
            )
            print(
                f"   - {source.title}" + (f" ({byline})" if byline else "") + f"  {source.path}",
                file=out,
            )
    if digest.more:
        print(f"\n…and {digest.more} more", file=out)
