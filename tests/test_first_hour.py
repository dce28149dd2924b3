"""What a new user hit in the first hour, as real processes: the working directory's .env, Slack
unreachable at start, an index folder that cannot be written, a read-only database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import BOT_TOKEN, SEEDS, SIGNING_SECRET
from fakeslack import FakeSlack
from test_workers import Proc

from bot.cli import database_advice
from bot.settings import Settings


def clean_env(**extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DIGEST_", "NEWSBOT_", "DATABASE_"))
    }
    return {**base, **extra}


def serve_env(home: Path, api_url: str) -> dict[str, str]:
    return clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        NEWSBOT_ARTICLES_DIR=str(SEEDS),
        NEWSBOT_DB=str(home / "n.db"),
        NEWSBOT_RESCAN_MINUTES="0",
    )


def test_a_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"NEWSBOT_DB={tmp_path / 'from-dotenv.db'}\nNEWSBOT_ARTICLES_DIR={SEEDS}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "bot", "ingest"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "from-dotenv.db").is_file()


def test_serve_with_slack_unreachable_says_one_line_and_retries(tmp_path: Path) -> None:
    env = serve_env(tmp_path, "http://127.0.0.1:9/api/")  # nothing listens on the discard port
    bot = Proc(tmp_path, env, "serve", "--port", "0")
    try:
        bot.wait_for("cannot reach Slack")
        time.sleep(4)  # several retries (1 s, 2 s, ...) later: still one line
        assert bot.proc.poll() is None, bot.output
        bot.proc.send_signal(signal.SIGTERM)
        assert bot.proc.wait(30) == 0
    finally:
        bot.kill()
    time.sleep(0.2)
    assert bot.output.count("cannot reach Slack") == 1, bot.output
    assert "Traceback" not in bot.output and BOT_TOKEN not in bot.output


def test_serve_starts_once_slack_answers(tmp_path: Path) -> None:
    """Slack down at start, then back: the bot connects on its own."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = serve_env(tmp_path, f"http://127.0.0.1:{port}/api/")
    bot = Proc(tmp_path, env, "serve", "--port", "0")
    try:
        bot.wait_for("cannot reach Slack")
        with FakeSlack(api_port=port):
            bot.wait_for("serving HTTP on port", timeout=30)
        assert "Slack answered" in bot.output
    finally:
        bot.kill()


def test_an_index_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "ingest"],
        cwd=tmp_path,
        env=clean_env(
            NEWSBOT_ARTICLES_DIR=str(SEEDS),
            NEWSBOT_DB=str(tmp_path / "n.db"),
            NEWSBOT_INDEX_DIR="/sys/newsbot-index",  # not writable, even for root
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert "/sys/newsbot-index" in line and "NEWSBOT_INDEX_DIR" in line


def test_read_only_database_advice_keeps_the_ledger(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "n.db")
    advice = database_advice(
        settings, sqlite3.OperationalError("attempt to write a readonly database")
    )
    assert "read-only" in advice and "write access" in advice
    for discard in ("move", "delete", "afresh", "remove"):
        assert discard not in advice
    corrupt = database_advice(settings, sqlite3.DatabaseError("file is not a database"))
    assert "keep this one" in corrupt and "afresh" not in corrupt
