"""One Settings object, read from the environment (and ``.env``), validated once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

DEFAULT_DB = "newsbot-data/newsbot.db"
DEFAULT_INDEX_DIR = "newsbot-data/index"
DEFAULT_ARTICLES_DIR = "seeds"
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS_RE = re.compile(r"^(\*|[a-z]{3}(-[a-z]{3})?(,[a-z]{3}(-[a-z]{3})?)*)$")
_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class SettingsError(ValueError):
    """Raised with every problem found, one per line, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path(DEFAULT_DB)
    # A postgresql:// URL selects PostgreSQL instead of the SQLite file. Kept out of repr(): it
    # may carry a password.
    database_url: str | None = field(default=None, repr=False)
    index_dir: Path | None = None
    articles_dir: Path = Path(DEFAULT_ARTICLES_DIR)
    rescan_minutes: int = 10
    feeds: tuple[str, ...] = ()  # RSS / Atom URLs polled while the bot runs
    feed_minutes: int = 15
    log_level: str = "WARNING"
    # Slack. Secrets are kept out of repr() so they never reach a log or a traceback.
    bot_token: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    port: int = 3000
    # Digest
    digest_channels: tuple[str, ...] = ()
    digest_time: time = time(8, 0)
    digest_timezone: str = "UTC"
    digest_days: str = "mon-fri"
    digest_lookback_hours: int = 24
    digest_skip_empty: bool = False

    @property
    def database(self) -> str | Path:
        """What the store opens: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def database_label(self) -> str:
        """The database, safe to print (no password)."""
        from bot.store import describe

        return describe(self.database)

    @property
    def index_path(self) -> Path:
        """This process's search index (derived data, rebuildable): NEWSBOT_INDEX_DIR, else
        beside the SQLite file, else newsbot-data/index. Never share one between hosts."""
        if self.index_dir is not None:
            return self.index_dir
        if self.database_url:
            return Path(DEFAULT_INDEX_DIR)
        return self.db_path.with_name(self.db_path.name + ".index")

    def with_database(self, target: str | Path) -> Settings:
        """``--db``: a URL selects PostgreSQL, anything else a SQLite file (and wins over both
        DATABASE_URL and NEWSBOT_DB)."""
        from bot.store import is_url

        if is_url(str(target)):
            return replace(self, database_url=str(target))
        return replace(self, db_path=Path(target), database_url=None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    @property
    def slack_mode(self) -> str | None:
        """'socket' when an app token is set, 'http' when only a signing secret is, else None."""
        if self.app_token:
            return "socket"
        if self.signing_secret:
            return "http"
        return None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build and validate settings; raise SettingsError naming every bad variable."""
        if env is None:
            if dotenv:
                # The working directory's .env, wherever newsbot is installed (load_dotenv()
                # alone searches upward from this module's folder, i.e. site-packages).
                load_dotenv(Path.cwd() / ".env", override=False)
            env = os.environ
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a whole number")
                return default
            if not low <= value <= high:
                problems.append(f"{name}={value} must be between {low} and {high}")
            return value

        def token(name: str, prefix: str) -> str | None:
            value = get(name)
            if value is not None and not value.startswith(prefix):
                problems.append(f"{name} must start with '{prefix}' (value hidden)")
            return value

        digest_time = time(8, 0)
        if raw_time := get("DIGEST_TIME"):
            m = re.fullmatch(r"(\d{1,2}):(\d{2})", raw_time)
            if not m or int(m[1]) > 23 or int(m[2]) > 59:
                problems.append(f"DIGEST_TIME={raw_time!r} must be HH:MM, e.g. 08:30")
            else:
                digest_time = time(int(m[1]), int(m[2]))

        tz_name = get("DIGEST_TIMEZONE") or "UTC"
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"DIGEST_TIMEZONE={tz_name!r} is not an IANA zone (e.g. Europe/Paris)")
            tz_name = "UTC"

        days = (get("DIGEST_DAYS") or "mon-fri").lower().replace(" ", "")
        names = re.findall(r"[a-z]+", days)
        if not _DAYS_RE.match(days) or any(n not in _DAY_NAMES for n in names):
            problems.append(f"DIGEST_DAYS={days!r} must be like 'mon-fri', 'mon,wed,fri' or '*'")
            days = "mon-fri"

        channels = tuple(c for c in re.split(r"[\s,]+", get("DIGEST_CHANNEL") or "") if c)
        for channel in channels:
            if not _CHANNEL_RE.match(channel):
                problems.append(
                    f"DIGEST_CHANNEL: {channel!r} is not a channel id (like C0123456789; "
                    "open the channel's details in Slack to copy it)"
                )

        feeds = tuple(u for u in re.split(r"[\s,]+", get("NEWSBOT_FEEDS") or "") if u)
        for url in feeds:
            if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE):
                problems.append(f"NEWSBOT_FEEDS: {url!r} is not an http(s) URL")

        skip_raw = (get("DIGEST_SKIP_EMPTY") or "false").lower()
        if skip_raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            problems.append(f"DIGEST_SKIP_EMPTY={skip_raw!r} must be true or false")
        log_level = (get("LOG_LEVEL") or "WARNING").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            problems.append(f"LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING or ERROR")
            log_level = "WARNING"
        api_url = get("SLACK_API_URL")
        if api_url and not re.match(r"^https?://", api_url):
            problems.append(f"SLACK_API_URL={api_url!r} must start with http:// or https://")

        database_url = get("DATABASE_URL")
        if database_url and not database_url.startswith(("postgresql://", "postgres://")):
            problems.append(
                "DATABASE_URL must start with postgresql:// (for a SQLite file use NEWSBOT_DB)"
            )
            database_url = None
        index_dir = get("NEWSBOT_INDEX_DIR")
        settings = cls(
            db_path=Path(get("NEWSBOT_DB") or DEFAULT_DB),
            database_url=database_url,
            index_dir=Path(index_dir) if index_dir else None,
            articles_dir=Path(get("NEWSBOT_ARTICLES_DIR") or DEFAULT_ARTICLES_DIR),
            rescan_minutes=integer("NEWSBOT_RESCAN_MINUTES", 10, 0, 24 * 60),
            feeds=feeds,
            feed_minutes=integer("NEWSBOT_FEED_MINUTES", 15, 1, 24 * 60),
            log_level=log_level,
            bot_token=token("SLACK_BOT_TOKEN", "xoxb-"),
            app_token=token("SLACK_APP_TOKEN", "xapp-"),
            signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=api_url,
            port=integer("PORT", 3000, 1, 65535),
            digest_channels=channels,
            digest_time=digest_time,
            digest_timezone=tz_name,
            digest_days=days,
            digest_lookback_hours=integer("DIGEST_LOOKBACK_HOURS", 24, 1, 24 * 31),
            digest_skip_empty=skip_raw in ("1", "true", "yes", "on"),
        )
        if problems:
            raise SettingsError(problems)
        return settings

    def require_slack_token(self) -> None:
        if not self.bot_token:
            raise SettingsError(
                ["SLACK_BOT_TOKEN is missing (app page > OAuth & Permissions, xoxb-...)"]
            )

    def require_slack(self) -> None:
        """Check what `serve` needs; raise SettingsError naming each missing variable."""
        problems = []
        if not self.bot_token:
            problems.append("SLACK_BOT_TOKEN is missing (app page > OAuth & Permissions, xoxb-...)")
        if not (self.app_token or self.signing_secret):
            problems.append(
                "set SLACK_APP_TOKEN (Socket Mode, xapp-...) or SLACK_SIGNING_SECRET (HTTP mode)"
            )
        if problems:
            raise SettingsError(problems)
