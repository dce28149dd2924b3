"""One function per ``newsbot`` command, each over the service and the archive."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.cli.render import (
    print_digest,
    print_ingest_report,
    print_result,
    progress,
    result_json,
)
from bot.models import SearchResult
from bot.settings import Settings

if TYPE_CHECKING:  # imported lazily at run time: each command loads only what it needs
    from collections.abc import Callable
    from datetime import date, datetime

    from bot.archive import Archive
    from bot.digest.build import Digest


log = logging.getLogger("newsbot.cli")


class CliError(Exception):
    """An error to show the user as one line, with exit code 1."""


def open_archive(settings: Settings) -> Archive:
    from bot.service import open_archive as open_

    return open_(settings)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.feed and args.paths:
        raise CliError("give files/folders or --feed URLs, not both")
    archive = open_archive(settings)
    try:
        if args.feed:
            return _ingest_feeds(archive, args.feed)
        report = archive.ingest(args.paths or None, progress=progress(sys.stderr))
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
    totals = archive.passage_counts([h.article.id for h in result.hits])
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
        report = archive.refresh_if_stale(progress=progress(sys.stderr))
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
        if not service.has_digest_channels():
            raise CliError(
                "no channel to post the digest to: set DIGEST_CHANNEL, or type"
                " `/news digest here` in a channel"
            )
        settings.require_slack_token()
        results = service.post_digest_now(resend=args.resend)
    finally:
        service.close()
    for result in results:
        print(result.describe())
    return 0 if all(r.delivered for r in results) else 1


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
    from bot.service import migrate_store
    from bot.store import describe

    copied = migrate_store(args.source, args.target)
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
