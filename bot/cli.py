"""The ``newsbot`` command line: the second adapter over the core (the first is Slack)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import __version__
from bot.logs import setup_logging
from bot.models import Hit, IngestReport, SearchResult
from bot.service import ServiceError
from bot.settings import Settings, SettingsError
from bot.store.base import StoreError

if TYPE_CHECKING:  # imported lazily at run time: each command loads only what it needs
    from collections.abc import Callable
    from datetime import date, datetime

    from bot.archive import Archive
    from bot.digest.build import Digest
    from bot.digest.delivery import DigestPreview

log = logging.getLogger("newsbot.cli")


class CliError(Exception):
    """An error to show the user as one line, with exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="SQLite file or postgresql:// URL (env DATABASE_URL, then NEWSBOT_DB)",
    )
    common.add_argument(
        "--articles",
        default=argparse.SUPPRESS,
        help="articles folder (env NEWSBOT_ARTICLES_DIR, default seeds/)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more"
    )
    parser = argparse.ArgumentParser(
        prog="newsbot",
        parents=[common],
        description="Search a newsroom's article archive and post a daily digest.",
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="read article files into the archive")
    p.add_argument("paths", nargs="*", help="files or folders (default: the articles folder)")
    p.add_argument(
        "--feed",
        action="append",
        default=[],
        metavar="URL",
        help="ingest this RSS or Atom feed once (repeatable); no files are read then",
    )

    p = sub.add_parser(
        "search",
        parents=[common],
        help="search the archive's passages",
        description='Query syntax: keywords (typos and word forms forgiven), "exact phrase",'
        " -word to leave out, by:NAME (alias author:), after:YYYY-MM-DD, before:YYYY-MM-DD."
        ' A query that starts with "-": newsbot search -- "-wagner mali".',
    )
    p.add_argument("query", nargs="?", default=None, help="keywords, typos welcome")
    p.add_argument("--limit", type=int, default=5, help="how many hits (1-50, default 5)")
    p.add_argument("--sort", choices=("relevance", "newest"), default="relevance", help="hit order")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--batch", type=Path, help="a file with one query per line")

    p = sub.add_parser(
        "related",
        parents=[common],
        help="the passages of other articles most like one passage",
    )
    p.add_argument("path", help="the article's path, as search prints it")
    p.add_argument("paragraph", type=int, help="the paragraph, 1-based, as search prints it")
    p.add_argument("--limit", type=int, default=5, help="how many hits (1-50, default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (paragraphs 0-based)")

    p = sub.add_parser("summarize", parents=[common], help="summarize article files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--sentences", type=int, default=3, help="sentences per summary (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = sub.add_parser("digest", parents=[common], help="preview or post the daily digest")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print it, post nothing (default)")
    mode.add_argument("--post", action="store_true", help="post it now through the ledger")
    p.add_argument(
        "--resend",
        action="store_true",
        help="with --post: re-post a digest held because an earlier post may have reached Slack"
        " (check the channel first)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--all", action="store_true", help="with --dry-run: every story, not just the top ones"
    )

    p = sub.add_parser("serve", parents=[common], help="run the Slack bot")
    p.add_argument("--port", type=int, default=None, help="HTTP mode port (env PORT, 3000)")
    p.add_argument(
        "--role",
        choices=("all", "web", "scheduler"),
        default="all",
        help="all: one process does everything (default); web: answer Slack only (any number);"
        " scheduler: digests and rescans (several may run, one is active)",
    )

    p = sub.add_parser(
        "migrate-store",
        parents=[common],
        help="copy the archive and digest ledger from one database into an empty one",
    )
    p.add_argument("--from", dest="source", required=True, help="SQLite file or postgresql:// URL")
    p.add_argument("--to", dest="target", required=True, help="SQLite file or postgresql:// URL")

    sub.add_parser("console", parents=[common], help="talk to the bot here, without Slack")
    sub.add_parser("feeds", parents=[common], help="list the feeds and their last poll")
    sub.add_parser("doctor", parents=[common], help="check configuration, Slack and storage")
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "db", None):
        settings = settings.with_database(args.db)
    return settings.with_overrides(
        articles_dir=Path(args.articles) if getattr(args, "articles", None) else None,
        log_level="INFO" if getattr(args, "verbose", False) else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        if args.command == "doctor":  # the doctor reports bad settings as failed checks
            from bot.doctor import doctor

            return doctor(None, exc.problems)
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    handler = COMMANDS[args.command]
    try:
        return handler(args, settings)
    except SettingsError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    except (CliError, ServiceError) as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:
        print(f"newsbot: {database_advice(settings, exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
            print(f"newsbot: {database_advice(settings, exc)}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


# -- helpers -----------------------------------------------------------------------------------
def database_advice(settings: Settings, exc: BaseException) -> str:
    """One line about a database error: what, and a fix that never discards the digest ledger
    (it is what stops a second post) or the first-seen times."""
    from bot.logs import redact
    from bot.store.postgres import redact_url

    where = settings.database_label
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = redact(redact_url(text, str(settings.database)))
    if "readonly" in text.replace("-", "").replace(" ", "").lower():
        return (
            f"the database {where} is read-only ({text}). Give the user running newsbot write"
            " access to the file and its folder (SQLite writes -wal and -shm files beside it)"
        )
    if settings.database_url:
        return (
            f"the database {where} cannot be used ({text}). Check that PostgreSQL is running and"
            " reachable, then run the command again"
        )
    return (
        f"the database {where} cannot be used ({text}). Restore it from a backup, or point --db"
        " at the right file; keep this one: it holds the digest ledger and first-seen times"
    )


def open_archive(settings: Settings) -> Archive:
    from bot.service import open_archive as open_

    return open_(settings)


def _progress(stream: TextIO) -> Callable[[int, int], None] | None:
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


# -- commands ----------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.feed and args.paths:
        raise CliError("give files/folders or --feed URLs, not both")
    archive = open_archive(settings)
    try:
        if args.feed:
            return _ingest_feeds(archive, args.feed)
        report = archive.ingest(args.paths or None, progress=_progress(sys.stderr))
    finally:
        archive.close()
    print_ingest_report(report, sys.stdout)
    return 0


def _ingest_feeds(archive: Archive, urls: Sequence[str]) -> int:
    """Each feed once; a failing feed is one line on stderr and never stops the others."""
    failed = 0
    for url in urls:
        fetched, report = archive.ingest_feed(url)
        if fetched.status == "error":
            failed += 1
            print(f"newsbot: feed {url}: {fetched.message}", file=sys.stderr)
            continue
        print(f"{url}: {fetched.message}", file=sys.stdout)
        print_ingest_report(report, sys.stdout)
    return 1 if failed else 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    archive = open_archive(settings)
    try:
        states = archive.feed_states()
    finally:
        archive.close()
    urls = list(dict.fromkeys([*settings.feeds, *states]))
    if not urls:
        print("no feeds: set NEWSBOT_FEEDS, or try `newsbot ingest --feed URL`")
        return 0
    from datetime import UTC, datetime

    for url in urls:
        state = states.get(url)
        configured = "" if url in settings.feeds else "  (not in NEWSBOT_FEEDS)"
        if not state:
            print(f"{url}  never polled{configured}")
            continue
        when = datetime.fromtimestamp(float(state.get("checked_at") or 0), UTC)
        print(
            f"{url}  {state.get('status')}: {state.get('message')}"
            f"  (last poll {when:%Y-%m-%d %H:%M} UTC){configured}"
        )
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch is None and args.query is None:
        raise CliError('give keywords, e.g. newsbot search "wagner mali", or --batch FILE')
    if not 1 <= args.limit <= 50:
        raise CliError("--limit must be between 1 and 50")
    if args.batch is not None:
        try:
            queries = args.batch.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise CliError(f"cannot read {args.batch}: {exc.strerror or exc}") from exc
    else:
        from bot.query import parse_query

        if error := parse_query(args.query).error:
            raise CliError(error)
        queries = [args.query]
    if not settings.articles_dir.is_dir():
        log.warning("no articles folder %s: searching what is stored", settings.articles_dir)
    archive = _fresh_archive(settings)
    try:
        for query in queries:
            result = archive.search(query, limit=args.limit, sort=args.sort)
            if args.batch is not None and not args.json:
                print(f"## {query}")
            _print_hits(archive, result, args.json)
    finally:
        archive.close()
    return 0


def _print_hits(archive: Archive, result: SearchResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result_json(result), ensure_ascii=False), flush=True)
        return
    ids = {h.article.id for h in result.hits}
    totals = {i: len(archive.passages_of(i)) for i in ids}
    print_result(result, sys.stdout, totals)


def cmd_related(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.limit <= 50:
        raise CliError("--limit must be between 1 and 50")
    archive = _fresh_archive(settings)
    try:
        article = archive.article_by_path(args.path) or archive.article_by_path(
            os.path.realpath(args.path)
        )
        if article is None:
            raise CliError(f"no article {args.path} in the archive (give the path search prints)")
        passages = archive.passages_of(article.id)
        if not 1 <= args.paragraph <= len(passages):
            raise CliError(f"{args.path} has paragraphs 1 to {len(passages)}")
        passage = passages[args.paragraph - 1]
        result = archive.related(passage.id, limit=args.limit)
        if result is None:
            raise CliError(f"{args.path} paragraph {args.paragraph} is no longer in the archive")
        if args.json:
            doc = result_json(result)
            doc["of"] = {
                "path": article.path,
                "paragraph": passage.position,
                "title": article.title,
            }
            print(json.dumps(doc, ensure_ascii=False), flush=True)
        else:
            print(f"Passages like {article.path}, paragraph {args.paragraph} ({article.title}):\n")
            _print_hits(archive, result, False)
    finally:
        archive.close()
    return 0


def cmd_summarize(args: argparse.Namespace, settings: Settings) -> int:
    from bot.articles import ArticleError, parse_article
    from bot.digest.summarize import summarize

    if not 1 <= args.sentences <= 20:
        raise CliError("--sentences must be between 1 and 20")
    failed = 0
    for path in args.files:
        try:
            article = parse_article(path)
        except ArticleError as exc:
            print(f"newsbot: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        sentences = summarize(article.paragraphs, args.sentences, article.title)
        if args.json:
            doc = {"path": str(path), "title": article.title, "sentences": sentences}
            print(json.dumps(doc, ensure_ascii=False), flush=True)
        else:
            print(f"{article.title}  ({path})")
            for sentence in sentences:
                print(f"  - {sentence}")
            print()
    return 1 if failed else 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import doctor

    return doctor(settings)


def _fresh_archive(settings: Settings) -> Archive:
    """The archive, re-read from the articles folder first if it changed."""
    archive = open_archive(settings)
    if settings.articles_dir.is_dir():
        report = archive.refresh_if_stale(progress=_progress(sys.stderr))
        if report and (report.skipped or report.changed):
            print_ingest_report(report, sys.stderr)
    return archive


def digest_builder(
    archive: Archive, *, all_stories: bool = False
) -> Callable[[datetime, datetime, date], Digest]:
    """``build(since, until, digest_date)`` for the delivery core, over this archive."""
    from bot.service import Service

    return Service(archive.settings, archive).digest_builder(all_stories=all_stories)


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.digest.build import digest_to_json
    from bot.service import Service

    if args.resend and not args.post:
        raise CliError("--resend goes with --post")
    if args.all and args.post:
        raise CliError("--all goes with --dry-run (a posted digest has a See all button)")
    service = Service(settings, _fresh_archive(settings))
    try:
        if not args.post:
            preview = service.preview_digest(all_stories=args.all)
            if args.json:
                print(
                    json.dumps(
                        digest_to_json(preview.content, preview.channels), ensure_ascii=False
                    )
                )
            else:
                print_digest(preview, sys.stdout)
            return 0
        if not settings.digest_channels:
            raise CliError("DIGEST_CHANNEL is not set: no channel to post the digest to")
        settings.require_slack_token()
        results = service.post_digest_now(resend=args.resend)
    finally:
        service.close()
    for result in results:
        print(result.describe())
    return 0 if all(r.delivered for r in results) else 1


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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.service import Service

    if args.role == "scheduler":
        if settings.digest_channels:
            settings.require_slack_token()
    else:
        settings.require_slack()  # named in one message before anything starts
    # Until serve installs its own handlers: a stop during start-up is a clean exit 0
    # (an interrupted ingest rolls back and the index catches up at the next start).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_during_startup)
    # One process ingests before answering; a worker's index catches up in the background.
    archive = _fresh_archive(settings) if args.role == "all" else open_archive_for_worker(settings)
    service = Service(settings, archive)
    try:
        return service.serve(args.role, args.port)
    finally:
        service.close()


def open_archive_for_worker(settings: Settings) -> Archive:
    """A worker's archive: its index catches up in the background (GET /readyz tells when)."""
    from bot.service import open_archive as open_

    return open_(settings, catch_up=False)


def _exit_during_startup(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_migrate_store(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store import describe, is_url, open_store
    from bot.store.copy import copy_store

    if not is_url(args.source) and not Path(args.source).is_file():
        raise CliError(f"--from {args.source}: no such database file")
    if describe(args.source) == describe(args.target):
        raise CliError("--from and --to are the same database")
    src = open_store(args.source)
    try:
        dst = open_store(args.target)
        try:
            copied = copy_store(src, dst)
        finally:
            dst.close()
    finally:
        src.close()
    counts = ", ".join(f"{n} {table.replace('_', ' ')} rows" for table, n in copied.items())
    print(f"copied {counts} from {describe(args.source)} to {describe(args.target)}")
    print("each worker rebuilds its search index from the new database at its first start")
    return 0


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.console import run_console

    archive = _fresh_archive(settings)
    try:
        return run_console(settings, archive)
    finally:
        archive.close()


COMMANDS = {
    "ingest": cmd_ingest,
    "feeds": cmd_feeds,
    "search": cmd_search,
    "related": cmd_related,
    "summarize": cmd_summarize,
    "digest": cmd_digest,
    "serve": cmd_serve,
    "migrate-store": cmd_migrate_store,
    "console": cmd_console,
    "doctor": cmd_doctor,
}
