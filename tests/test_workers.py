"""Real processes on one PostgreSQL database: two ``serve --role web`` workers (HTTP mode) and two
``serve --role scheduler``, against the fake Slack on loopback.

One digest per channel and day; the standby scheduler takes over after ``kill -9`` of the active
one; an article ingested by another process reaches both workers' search; a retried event that
reaches the other worker is answered once. Every process is killed at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest
from botproc import Proc
from conftest import BOT_TOKEN, SEEDS, SIGNING_SECRET, HttpDriver
from fakeslack import FakeSlack
from test_slack_socket import text_of

REPO = Path(__file__).resolve().parent.parent
SCOPES = json.loads((REPO / "manifest.json").read_text())["oauth_config"]["scopes"]["bot"]
DESK = "C0DESK0001"
TAKEOVER_WITHIN = 30.0
SEARCHABLE_WITHIN = 5.0


def wait_until(check, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def ready(url: str) -> bool:
    try:
        with urlopen(url + "/readyz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[dict]:
    (tmp_path / "articles").mkdir()
    for seed in SEEDS.glob("*.txt"):
        (tmp_path / "articles" / seed.name).write_bytes(seed.read_bytes())
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DIGEST_", "NEWSBOT_", "DATABASE_"))
    }
    procs: list[Proc] = []
    with FakeSlack(scopes=",".join(SCOPES)) as fake:
        env = {
            **base,
            "DATABASE_URL": pg_url,
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "NEWSBOT_ARTICLES_DIR": str(tmp_path / "articles"),
            "NEWSBOT_RESCAN_MINUTES": "0",
            "DIGEST_CHANNEL": DESK,
            "DIGEST_TIME": "00:00",
            "DIGEST_DAYS": "*",
            "DIGEST_TIMEZONE": "UTC",
            "LOG_LEVEL": "INFO",
        }

        def start(name: str, *args: str) -> Proc:
            proc = Proc(tmp_path, {**env, "NEWSBOT_INDEX_DIR": str(tmp_path / name)}, *args)
            procs.append(proc)
            return proc

        try:
            yield {"fake": fake, "env": env, "home": tmp_path, "start": start}
        finally:
            for proc in procs:
                proc.kill()


def test_two_web_workers_and_two_schedulers_on_postgres(cluster: dict) -> None:
    fake: FakeSlack = cluster["fake"]
    start = cluster["start"]
    # Another host ingests first (the workers never read the articles folder).
    ingest_env = {**cluster["env"], "NEWSBOT_INDEX_DIR": str(cluster["home"] / "ingest-index")}
    ingest = run_cli(cluster["home"], ingest_env, "ingest")
    assert ingest.returncode == 0, ingest.stderr
    schedulers = [start(f"sched{i}", "serve", "--role", "scheduler") for i in (1, 2)]
    webs = [start(f"web{i}", "serve", "--role", "web", "--port", "0") for i in (1, 2)]
    urls = ["http://127.0.0.1:" + w.wait_for(r"serving HTTP on port (\d+)").group(1) for w in webs]
    for url in urls:
        wait_until(lambda u=url: ready(u), 60, f"{url}/readyz")

    # Exactly one scheduler is active; it posts the due digest once.
    wait_until(lambda: len(fake.messages_in(DESK)) >= 1, 60, "the digest")
    active = [s for s in schedulers if "is the active scheduler" in s.output]
    assert len(active) == 1, [s.output for s in schedulers]
    [standby] = [s for s in schedulers if s is not active[0]]
    standby.wait_for("standby scheduler")

    # kill -9 of the active one: the standby takes over, and the ledger prevents a second post.
    killed_at = time.monotonic()
    active[0].proc.send_signal(signal.SIGKILL)
    standby.wait_for("is the active scheduler", timeout=TAKEOVER_WITHIN)
    took = time.monotonic() - killed_at
    print(f"standby took over {took:.2f} s after kill -9 of the active scheduler")
    assert took < TAKEOVER_WITHIN, took
    standby.wait_for("digest catch-up: ", timeout=30)
    time.sleep(0.5)
    assert len(fake.messages_in(DESK)) == 1

    # Both workers answer searches; a new article from another process reaches both in 5 s.
    drivers = [HttpDriver(fake, url) for url in urls]
    for driver in drivers:
        assert "*Wagner*" in text_of(driver.command("/news", "wagner"))
    # (outside the folder the active scheduler watches: this host's ingest is the only writer)
    (cluster["home"] / "incoming").mkdir()
    (cluster["home"] / "incoming" / "zz_new.txt").write_text(
        "Quokkas reach the newsroom\n\nA quokka delegation visited the quokkaville desk today.\n"
    )
    ingest = run_cli(cluster["home"], ingest_env, "ingest", str(cluster["home"] / "incoming"))
    assert "added 1" in ingest.stdout, ingest.stdout + ingest.stderr
    for driver in drivers:
        wait_until(
            lambda d=driver: "quokkaville" in text_of(d.command("/news", "quokkaville")),
            SEARCHABLE_WITHIN,
            f"the new article on {driver.url}",
        )

    # A retried event that reaches the other worker is answered once.
    event = drivers[0].message_event("mali troops")
    payload = drivers[0].event_payload(event)
    before = len(fake.calls_to("chat.postMessage"))
    drivers[0].deliver("events_api", payload)
    drivers[1].deliver("events_api", payload, retry=1)
    fake.wait_for_call("chat.postMessage", count=before + 1)
    drivers[0].assert_quiet(1.0)
    assert len(fake.calls_to("chat.postMessage")) == before + 1
    for proc in [*webs, standby]:
        assert "Traceback" not in proc.output, proc.output
        assert BOT_TOKEN not in proc.output and "s3cret" not in proc.output


def run_cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_store_round_trip_sqlite_to_postgres_and_back(tmp_path: Path, pg_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "DATABASE_"))}
    env["NEWSBOT_ARTICLES_DIR"] = str(SEEDS)
    sqlite_db = str(tmp_path / "old.db")
    assert run_cli(tmp_path, env, "--db", sqlite_db, "ingest").returncode == 0

    moved = run_cli(tmp_path, env, "migrate-store", "--from", sqlite_db, "--to", pg_url)
    assert moved.returncode == 0, moved.stderr
    assert "copied" in moved.stdout and "postgresql://postgres@127.0.0.1" in moved.stdout
    # The PostgreSQL archive answers the same search (its worker builds a fresh local index).
    searches = [
        run_cli(tmp_path, {**env, "NEWSBOT_INDEX_DIR": str(tmp_path / idx)}, "--db", db, "search",
                "Bandiagra", "--json")
        for db, idx in ((sqlite_db, "a"), (pg_url, "b"))
    ]  # fmt: skip
    hits = [json.loads(s.stdout)["hits"] for s in searches]
    assert hits[0] and hits[0] == hits[1]

    again = run_cli(tmp_path, env, "migrate-store", "--from", sqlite_db, "--to", pg_url)
    assert again.returncode == 1 and "refusing to mix two archives" in again.stderr
    assert "Traceback" not in again.stderr

    back = str(tmp_path / "back.db")
    home = run_cli(tmp_path, env, "migrate-store", "--from", pg_url, "--to", back)
    assert home.returncode == 0, home.stderr
    from bot.store import open_store

    a, b = open_store(sqlite_db), open_store(back)
    try:
        assert [(x.id, x.path, x.first_seen) for x in a.articles()] == [
            (x.id, x.path, x.first_seen) for x in b.articles()
        ]
        assert a.counts() == b.counts()
    finally:
        a.close()
        b.close()


def test_readyz_is_503_until_the_index_caught_up_then_200(tmp_path: Path, pg_url: str) -> None:
    """A worker whose index is behind the database is alive (/healthz 200) but not ready."""
    from dataclasses import replace
    from urllib.error import HTTPError

    from conftest import bot_settings

    from bot.archive import Archive
    from bot.settings import Settings
    from bot.slack.app import build_app
    from bot.slack.serve import HttpServer

    writer = Archive.open(
        Settings(articles_dir=SEEDS, index_dir=tmp_path / "writer").with_database(pg_url)
    )
    writer.ingest()
    with FakeSlack() as fake:
        settings = bot_settings(fake, signing_secret=SIGNING_SECRET).with_database(pg_url)
        worker = Archive.open(replace(settings, index_dir=tmp_path / "worker"), catch_up=False)
        server = HttpServer(build_app(settings, worker), worker, host="127.0.0.1", port=0)
        server.start()
        try:
            with pytest.raises(HTTPError) as info:
                urlopen(server.url + "/readyz", timeout=5)
            body = json.loads(info.value.read())
            assert info.value.code == 503 and body["ready"] is False
            assert body["store_position"] > body["index_position"] == 0
            with urlopen(server.url + "/healthz", timeout=5) as alive:
                assert alive.status == 200
            worker.catch_up()
            with urlopen(server.url + "/readyz", timeout=5) as resp:
                body = json.loads(resp.read())
            assert resp.status == 200 and body["ready"] is True and body["lag"] == 0
            assert body["index_position"] == body["store_position"]
        finally:
            server.stop()
            worker.close()
            writer.close()
