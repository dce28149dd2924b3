"""The command line's arguments: commands, options and how they become Settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import __version__
from bot.settings import Settings

# The options of the commands before and up to search that take a value ("--db PATH"): the word
# after one is its value, never a word to leave out (bot.cli._left_out_words).
OPTIONS_WITH_VALUES = frozenset({"--db", "--articles", "--limit", "--sort", "--batch"})


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
        ' -word or -"a phrase" to leave out, by:NAME (alias author:), after:YYYY-MM-DD,'
        " before:YYYY-MM-DD."
        " Quotes are optional (newsbot search mali -wagner); a phrase keeps its double quotes"
        " inside single ones: newsbot search '\"french troops\" mali'.",
    )
    p.add_argument("query", nargs="*", help="keywords, typos welcome (quotes optional)")
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
