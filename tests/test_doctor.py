"""`newsbot doctor` against the fake Slack: a line per check, a fix for each failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeslack import FakeSlack

from bot.doctor import DIGEST_SCOPES, REQUIRED_SCOPES

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
MANIFEST_SCOPES = json.loads((ROOT / "manifest.json").read_text())["oauth_config"]["scopes"]["bot"]
TOKENS = {"SLACK_BOT_TOKEN": "xoxb-doctor-secret-1", "SLACK_APP_TOKEN": "xapp-doctor-secret-2"}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


def doctor(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    if not (tmp_path / "seeds").exists():
        shutil.copytree(SEEDS, tmp_path / "seeds")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT", "SLACK", "DIGEST"))}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "xoxb-doctor-secret" not in out.stdout + out.stderr
    assert "xapp-doctor-secret" not in out.stdout + out.stderr
    return out


def lines(out: subprocess.CompletedProcess) -> dict[str, str]:
    """check name -> status"""
    found = {}
    for line in out.stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL", "WARN", "SKIP"):
            found[rest.strip().split(":")[0]] = status
    return found


def test_manifest_grants_what_doctor_requires() -> None:
    assert set(MANIFEST_SCOPES) >= REQUIRED_SCOPES | DIGEST_SCOPES


def test_all_good(tmp_path: Path) -> None:
    fake = FakeSlack(scopes=",".join(MANIFEST_SCOPES)).start()
    shutil.copytree(SEEDS, tmp_path / "seeds")
    subprocess.run([sys.executable, "-m", "bot", "ingest"], cwd=tmp_path, check=True)
    env = {**TOKENS, "SLACK_API_URL": fake.api_url, "DIGEST_CHANNEL": "C0DESK0001"}
    out = doctor(tmp_path, env)
    assert out.returncode == 0, out.stdout
    status = lines(out)
    assert status == {
        "configuration": "PASS",
        "articles folder": "PASS",
        "database": "PASS",
        "search index": "PASS",
        "scheduler": "WARN",  # no `serve` has run on this database yet
        "slack token": "PASS",
        "slack scopes": "PASS",
        "socket mode": "PASS",
        "digest channel C0DESK0001": "PASS",
        "next digest": "PASS",
    }
    assert fake.calls_to("auth.test") and fake.calls_to("conversations.info")
    assert out.stdout.rstrip().endswith("9 ok, 1 warning")  # a warning is not "ok"
    fake.stop()


def test_files_of_an_older_index_format_are_named(tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    subprocess.run([sys.executable, "-m", "bot", "ingest"], cwd=tmp_path, check=True)
    index = next((tmp_path / "newsbot-data").glob("*.index"))
    (index / "meta.json").write_text("{}")  # what the first release left directly in the folder
    out = doctor(tmp_path, {})
    status = lines(out)
    assert status["search index"] == "PASS"
    assert status["old search index"] == "WARN"
    assert "holds an older index format's files (meta.json)" in out.stdout


def test_missing_scope_not_a_member_and_bad_app_token(tmp_path: Path) -> None:
    with FakeSlack(scopes="chat:write,commands") as fake:
        fake.channels["C0DESK0001"] = {"id": "C0DESK0001", "name": "desk", "is_member": False}
        fake.fail("apps.connections.open", "invalid_auth")
        env = {**TOKENS, "SLACK_API_URL": fake.api_url, "DIGEST_CHANNEL": "C0DESK0001"}
        out = doctor(tmp_path, env)
    assert out.returncode == 1
    status = lines(out)
    assert status["slack scopes"] == "FAIL"
    assert "missing app_mentions:read, im:history\n" in out.stdout
    # The history scopes are optional: a warning that says the trade-off, not a failure.
    assert status["digest history scopes"] == "WARN"
    assert "held until you check the channel and run `newsbot digest --post --resend`" in out.stdout
    assert status["digest channel C0DESK0001"] == "FAIL"
    assert "/invite @newsbot" in out.stdout
    assert status["socket mode"] == "FAIL"


def test_rejected_token(tmp_path: Path, fake: FakeSlack) -> None:
    fake.fail("auth.test", "invalid_auth")
    out = doctor(tmp_path, {**TOKENS, "SLACK_API_URL": fake.api_url})
    assert out.returncode == 1
    assert "FAIL slack token: auth.test said invalid_auth" in out.stdout
    assert "fix: reinstall the app" in out.stdout


def test_unreachable_slack_and_bad_settings(tmp_path: Path) -> None:
    out = doctor(tmp_path, {**TOKENS, "SLACK_API_URL": "http://127.0.0.1:9/api/"})
    assert out.returncode == 1 and "FAIL slack token: cannot reach Slack" in out.stdout
    out = doctor(tmp_path, {"DIGEST_TIMEZONE": "Mars/Olympus", "DIGEST_DAYS": "someday"})
    assert out.returncode == 1
    assert out.stdout.count("FAIL configuration") == 2
    assert "Traceback" not in out.stdout + out.stderr


def test_missing_articles_folder_and_no_slack(tmp_path: Path) -> None:
    out = doctor(tmp_path, {"NEWSBOT_ARTICLES_DIR": str(tmp_path / "nowhere")})
    assert out.returncode == 1
    status = lines(out)
    assert status["articles folder"] == "FAIL" and status["slack token"] == "FAIL"
    assert status["database"] == "PASS"


def test_every_failure_has_a_fix_and_a_skip_is_not_ok(tmp_path: Path) -> None:
    out = doctor(
        tmp_path,
        {**TOKENS, "SLACK_API_URL": "http://127.0.0.1:9/api/", "NEWSBOT_ARTICLES_DIR": "nowhere"},
    )
    text = out.stdout.splitlines()
    for i, line in enumerate(text):
        if line.startswith("FAIL"):
            assert text[i + 1].lstrip().startswith("fix: "), line
    assert "SKIP" in out.stdout and " ok" in text[-1] and "skipped" in text[-1]


def test_unreachable_postgres_is_a_failed_check_with_a_fix(tmp_path: Path) -> None:
    out = doctor(tmp_path, {"DATABASE_URL": "postgresql://newsbot:pw-secret@127.0.0.1:9/news"})
    status = lines(out)
    assert status["database"] == "FAIL" and "start PostgreSQL" in out.stdout
    assert "pw-secret" not in out.stdout + out.stderr and "Traceback" not in out.stderr


def test_postgres_database_index_lag_and_the_active_scheduler(tmp_path: Path, pg_url: str) -> None:
    from bot.election import SchedulerSeat, election_for
    from bot.store import open_store

    shutil.copytree(SEEDS, tmp_path / "seeds")
    env = {"DATABASE_URL": pg_url, "DIGEST_CHANNEL": "C0DESK0001"}
    subprocess.run(
        [sys.executable, "-m", "bot", "ingest"], cwd=tmp_path, env={**os.environ, **env}, check=True
    )
    store = open_store(pg_url)
    seat = SchedulerSeat(election_for(pg_url), lambda: lambda: None, lambda: store)
    assert seat.election.try_acquire()
    seat._become_active()
    out = doctor(tmp_path, {**env, "NEWSBOT_INDEX_DIR": str(tmp_path / "fresh-index")})
    seat._step_down(None)
    store.close()
    status = lines(out)
    assert status["database"] == "PASS" and "postgresql://postgres@127.0.0.1" in out.stdout
    assert status["search index"] == "WARN" and "changes behind the database" in out.stdout
    assert status["scheduler"] == "PASS" and "active: " in out.stdout
