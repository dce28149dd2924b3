"""The ``newsbot`` command line: the second adapter over the core (the first is Slack).

``parser`` reads the arguments, ``commands`` runs them, ``render`` prints what they found; errors
are one line on stderr and an exit code.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Sequence

from bot.cli.commands import COMMANDS, CliError
from bot.cli.parser import OPTIONS_WITH_VALUES, build_parser, load_settings
from bot.logs import setup_logging
from bot.service import ServiceError
from bot.settings import Settings, SettingsError
from bot.store.base import StoreError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv, left_out = _left_out_words(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(argv)
    if args.command == "search":
        # Words after an option belong to the query too: `newsbot search mali --limit 3 troops`.
        words = [*args.query, *(a for a in unknown if not a.startswith("--")), *left_out]
        unknown = [a for a in unknown if a.startswith("--")]
        args.query = " ".join(words) if words else None
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")  # as parse_args says it
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
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`newsbot search ... | head`)
        # Python flushes stdout once more at exit: point it at /dev/null so that says nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
            print(f"newsbot: {database_advice(settings, exc)}", file=sys.stderr)
            return 1
        raise


def _left_out_words(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``newsbot search mali -hollande``: each "-word" after ``search`` (before any ``--``) is a
    word to leave out, not options (-h and -v run together, or unknown): taken out of argv
    before argparse sees it, and returned apart. Where it stood does not matter to a query."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # the options before the command
        i += 2 if argv[i] in OPTIONS_WITH_VALUES else 1
    if i >= len(argv) or argv[i] != "search":
        return list(argv), []
    out, left_out = list(argv[: i + 1]), []
    for j in range(i + 1, len(argv)):
        arg = argv[j]
        if arg == "--":
            return [*out, *argv[j:]], left_out
        word = arg[:1] == "-" and arg[1:2].isalpha() and len(arg) > 2
        (left_out if word and argv[j - 1] not in OPTIONS_WITH_VALUES else out).append(arg)
    return out, left_out


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
