"""``newsbot doctor``: check configuration, Slack, storage and schedule; say how to fix each."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from slack_sdk import WebClient

REQUIRED_SCOPES = frozenset({"commands", "chat:write", "app_mentions:read", "im:history"})
# Optional: the digest looks for its own message in the channel's history before re-posting after
# a crash. Without them the bot reads no channel message, and such a digest waits for --resend.
DIGEST_SCOPES = frozenset({"channels:history", "groups:history"})
HEARTBEAT_STALE = 120  # seconds without a heartbeat before the active scheduler counts as gone


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # PASS, FAIL, WARN or SKIP
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return text + (f"\n     fix: {self.fix}" if self.fix else "")


def run_checks(settings: Settings | None, problems: list[str] | None = None) -> list[Check]:
    """Every check, in order; Slack checks talk to SLACK_API_URL (or Slack) with the bot token."""
    if settings is None:
        return [
            Check("configuration", "FAIL", p, "edit .env or the environment (see .env.example)")
            for p in problems or ["invalid settings"]
        ]
    checks = [Check("configuration", "PASS", "all variables valid")]
    checks += _storage(settings)
    checks += _slack(settings)
    checks.append(_schedule(settings))
    return checks


def _guard(name: str, fn: Callable[[], list[Check]]) -> list[Check]:
    try:
        return fn()
    except Exception as exc:  # a check that crashes is a failed check, not a crashed doctor
        from bot.logs import redact

        return [
            Check(
                name,
                "FAIL",
                redact(f"{type(exc).__name__}: {exc}").splitlines()[0],
                "run the failing command with -v for details, fix what it names, run doctor again",
            )
        ]


def _storage(settings: Settings) -> list[Check]:
    out: list[Check] = []
    folder = settings.articles_dir
    if not folder.is_dir():
        out.append(
            Check(
                "articles folder",
                "FAIL",
                f"{folder} is not a folder",
                "set NEWSBOT_ARTICLES_DIR (or --articles) to the folder of article files",
            )
        )
    else:
        from bot.archive import ARTICLE_SUFFIXES

        n = sum(1 for p in folder.rglob("*") if p.suffix.lower() in ARTICLE_SUFFIXES)
        out.append(
            Check("articles folder", "PASS", f"{folder}: {n} article files")
            if n
            else Check(
                "articles folder",
                "WARN",
                f"{folder} holds no article files (an unmounted share?)",
                "mount or fill it; the archive keeps what it holds meanwhile",
            )
        )
    return out + _guard("database", lambda: _database(settings))


def _database(settings: Settings) -> list[Check]:
    from bot.service import ServiceError, open_archive
    from bot.store import StoreError

    where = settings.database_label
    archive = None
    try:
        archive = open_archive(settings, catch_up=False)
        ok = archive.check_store()  # opens (and migrates) the store now
    except (sqlite3.DatabaseError, StoreError, ServiceError) as exc:
        if archive is not None:
            archive.close()
        fix = (
            "start PostgreSQL or fix DATABASE_URL (host, port, user, database)"
            if settings.database_url
            else "restore the file from a backup or point NEWSBOT_DB / --db at the right one;"
            " keep this file: it holds the digest ledger and first-seen times"
        )
        return [Check("database", "FAIL", f"{where}: {str(exc).splitlines()[0]}", fix)]
    try:
        articles, passages = archive.counts()
        status = archive.index_status()
        indexed = archive.index.num_docs()
        leftovers = archive.index.leftovers()
        stale = settings.articles_dir.is_dir() and archive.is_stale()
        checks = [
            Check("database", "PASS", f"{where}: {articles} articles, {passages} passages")
            if ok == "ok"
            else Check(
                "database",
                "FAIL",
                f"integrity check: {ok}",
                "restore from a backup (the ledger and first-seen times live there)",
            )
        ]
        checks.append(_index(settings, status, indexed, passages))
        if leftovers:
            current = archive.index.path.name
            names = ", ".join(p.name for p in leftovers[:3]) + ", ..." * (len(leftovers) > 3)
            checks.append(
                Check(
                    "old search index",
                    "WARN",
                    f"{settings.index_path} holds an older index format's files ({names})",
                    f"delete them (everything there but {current}/) once no older newsbot runs",
                )
            )
        if stale:
            checks.append(
                Check(
                    "archive freshness",
                    "WARN",
                    "the articles folder changed since the last ingest",
                    "run `newsbot ingest` (the running bot re-scans on its own)",
                )
            )
        if settings.digest_channels:
            checks.append(_scheduler(archive.scheduler_heartbeat()))
        return checks
    finally:
        archive.close()


def _index(settings: Settings, status: dict, indexed: int, passages: int) -> Check:
    lag = int(status["lag"])
    if lag:
        return Check(
            "search index",
            "WARN",
            f"{lag} changes behind the database (index at {status['index_position']}, database"
            f" at {status['store_position']})",
            "nothing to do if a bot runs with this index (it follows within seconds); else run"
            " any newsbot command to catch up",
        )
    if indexed != passages:
        return Check(
            "search index",
            "FAIL",
            f"{indexed} passages indexed, {passages} stored",
            f"delete {settings.index_path} and run any newsbot command to rebuild it",
        )
    return Check("search index", "PASS", f"{indexed} passages indexed, no lag")


def _scheduler(beat: dict[str, Any] | None) -> Check:
    start = "start `newsbot serve` (or `newsbot serve --role scheduler`) so the digest runs"
    if beat is None:
        return Check("scheduler", "WARN", "no scheduler has run on this database yet", start)
    age = (datetime.now(UTC) - datetime.fromisoformat(beat["heartbeat"])).total_seconds()
    if age > HEARTBEAT_STALE:
        return Check(
            "scheduler",
            "WARN",
            f"last active {beat['holder']}, heard from {age:.0f} s ago: none active now?",
            start,
        )
    return Check(
        "scheduler", "PASS", f"active: {beat['holder']} since {beat['since']} ({age:.0f} s ago)"
    )


def _slack(settings: Settings) -> list[Check]:
    if not settings.bot_token:
        return [
            Check(
                "slack token",
                "FAIL",
                "SLACK_BOT_TOKEN is not set (search and digest work offline only)",
                "create the app from manifest.json and copy its Bot User OAuth Token into .env",
            )
        ]
    from slack_sdk.errors import SlackApiError

    from bot.slack.app import make_client

    client = make_client(settings, timeout=10)
    out: list[Check] = []
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        return [
            Check(
                "slack token",
                "FAIL",
                f"auth.test said {error}",
                "reinstall the app and copy the new Bot User OAuth Token into SLACK_BOT_TOKEN",
            )
        ]
    except OSError as exc:
        return [
            Check(
                "slack token",
                "FAIL",
                f"cannot reach Slack: {type(exc).__name__}",
                "check the network, a proxy (HTTPS_PROXY) or SLACK_API_URL",
            )
        ]
    out.append(Check("slack token", "PASS", f"bot {auth.get('user')} in {auth.get('team')}"))
    granted = {s.strip() for s in (auth.headers.get("x-oauth-scopes") or "").split(",") if s}
    missing = sorted(REQUIRED_SCOPES - granted)
    out.append(
        Check("slack scopes", "PASS", ", ".join(sorted(REQUIRED_SCOPES)))
        if not missing
        else Check(
            "slack scopes",
            "FAIL",
            "missing " + ", ".join(missing),
            "add them under OAuth & Permissions (or re-create from manifest.json) and reinstall",
        )
    )
    history = sorted(DIGEST_SCOPES - granted)
    if settings.digest_channels and history:
        out.append(
            Check(
                "digest history scopes",
                "WARN",
                f"without {', '.join(history)} the bot reads no channel message, but a digest"
                " whose post was interrupted cannot be looked up: it is held until you check the"
                " channel and run `newsbot digest --post --resend`",
                "add them (manifest.json has them) if you prefer automatic recovery",
            )
        )
    out.append(_mode(settings))
    for channel in settings.digest_channels:
        out.append(_membership(client, channel))
    if not settings.digest_channels:
        out.append(Check("digest channel", "SKIP", "DIGEST_CHANNEL not set: no daily digest"))
    return out


def _mode(settings: Settings) -> Check:
    if settings.app_token:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        base = settings.slack_api_url or WebClient.BASE_URL
        client = WebClient(base_url=base.rstrip("/") + "/", timeout=10)
        try:
            client.apps_connections_open(app_token=settings.app_token)
        except SlackApiError as exc:
            return Check(
                "socket mode",
                "FAIL",
                f"apps.connections.open said {exc.response.get('error', 'error')}",
                "enable Socket Mode and create an app-level token with connections:write",
            )
        except OSError as exc:
            return Check(
                "socket mode",
                "FAIL",
                f"cannot reach Slack: {type(exc).__name__}",
                "check the network, a proxy (HTTPS_PROXY) or SLACK_API_URL",
            )
        return Check("socket mode", "PASS", "app-level token accepted")
    if settings.signing_secret:
        return Check("http mode", "PASS", f"signing secret set; serve on port {settings.port}")
    return Check(
        "connection mode",
        "FAIL",
        "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set",
        "set SLACK_APP_TOKEN (Socket Mode, recommended) or SLACK_SIGNING_SECRET (HTTP mode)",
    )


def _membership(client: WebClient, channel: str) -> Check:
    from slack_sdk.errors import SlackApiError

    invite = f"in Slack, open the channel and type /invite @newsbot (channel {channel})"
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        if error == "missing_scope":
            return Check(
                f"digest channel {channel}",
                "WARN",
                "cannot check membership without channels:read",
                "add channels:read to check, or just make sure the bot is invited",
            )
        return Check(f"digest channel {channel}", "FAIL", error, invite)
    except OSError as exc:
        return Check(
            f"digest channel {channel}",
            "FAIL",
            f"cannot reach Slack: {type(exc).__name__}",
            "check the network, a proxy (HTTPS_PROXY) or SLACK_API_URL",
        )
    data = info.get("channel") or {}
    name = data.get("name", channel)
    if not data.get("is_member"):
        return Check(f"digest channel {channel}", "FAIL", f"bot is not a member of #{name}", invite)
    return Check(f"digest channel {channel}", "PASS", f"bot is a member of #{name}")


def _schedule(settings: Settings) -> Check:
    from bot.schedule import next_digest_time

    try:
        at = next_digest_time(settings, datetime.now(UTC))
    except ValueError as exc:
        return Check("next digest", "FAIL", str(exc), "fix DIGEST_DAYS")
    detail = f"{at:%a %Y-%m-%d %H:%M} {settings.digest_timezone} ({settings.digest_days})"
    if not settings.digest_channels:
        return Check("next digest", "SKIP", detail + ", but no DIGEST_CHANNEL")
    return Check("next digest", "PASS", detail)


def doctor(
    settings: Settings | None,
    problems: list[str] | None = None,
    out: Callable[[str], object] = print,
) -> int:
    """Print one line per check; 1 if any failed, else 0."""
    checks = run_checks(settings, problems)
    for check in checks:
        out(check.line())
    out("\n" + summary(checks))
    return 1 if any(c.status == "FAIL" for c in checks) else 0


def summary(checks: list[Check]) -> str:
    """Only PASS counts as ok: a SKIP checked nothing, a WARN found something."""
    counts = {s: sum(c.status == s for c in checks) for s in ("PASS", "WARN", "SKIP", "FAIL")}
    if counts["PASS"] == len(checks):
        return f"all {len(checks)} ok"
    words = {"PASS": "ok", "WARN": "warning", "SKIP": "skipped", "FAIL": "failed"}
    parts = [
        f"{n} {words[s]}" + ("s" if s == "WARN" and n != 1 else "") for s, n in counts.items() if n
    ]
    return ", ".join(parts)


__all__ = ["DIGEST_SCOPES", "REQUIRED_SCOPES", "Check", "SettingsError", "doctor", "run_checks"]
