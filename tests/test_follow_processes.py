"""Real ``newsbot serve`` processes on one SQLite database against the fake Slack: a new article
picked up by the folder watcher reaches its follower in one DM, and neither a ``kill -9`` and
restart, nor an update of the article, sends it again. The desk channels get their digest once
a day across the restart too."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import BOT_TOKEN, SEEDS, SIGNING_SECRET
from fakeslack import FakeSlack
from test_workers import Proc, wait_until

from bot.store import open_store

REPO = Path(__file__).resolve().parent.parent
SCOPES = json.loads((REPO / "manifest.json").read_text())["oauth_config"]["scopes"]["bot"]
FOLLOWER = "U0FOLLOWER"
SPORTS = "C0SPORTS01"
CONFIGURED = "C0DESK0001"


def posts_to(fake: FakeSlack, channel: str) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def test_serve_alerts_once_across_a_restart_and_desks_get_one_digest(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (articles / seed.name).write_bytes(seed.read_bytes())
    db = tmp_path / "news.db"
    store = open_store(db)
    store.add_follow(FOLLOWER, "volcano eruption")
    store.set_desk(SPORTS, "football", FOLLOWER)
    store.close()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DIGEST_", "NEWSBOT_", "DATABASE_"))
    }
    with FakeSlack(scopes=",".join(SCOPES)) as fake:
        env = {
            **base,
            "NEWSBOT_DB": str(db),
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "NEWSBOT_ARTICLES_DIR": str(articles),
            "NEWSBOT_RESCAN_MINUTES": "0",
            "DIGEST_CHANNEL": CONFIGURED,
            "DIGEST_TIME": "00:00",
            "DIGEST_DAYS": "*",
            "DIGEST_TIMEZONE": "UTC",
            "LOG_LEVEL": "INFO",
        }
        procs: list[Proc] = []
        try:
            first = Proc(tmp_path, env, "serve", "--port", "0")
            procs.append(first)
            first.wait_for(r"serving HTTP on port \d+")
            # The catch-up digest: the configured channel and the stored desk, once each.
            wait_until(lambda: posts_to(fake, CONFIGURED) and posts_to(fake, SPORTS), 60, "digests")
            (articles / "volcano.txt").write_text(
                "Volcano erupts\n\nThe volcano eruption sent ash over the town.\n"
            )
            wait_until(lambda: posts_to(fake, FOLLOWER), 30, "the alert DM")
            dm = posts_to(fake, FOLLOWER)[0]
            assert "Volcano erupts" in json.dumps(dm.params.get("blocks"))
            first.kill()  # kill -9: no clean shutdown
            (articles / "volcano.txt").write_text(
                "Volcano erupts\n\nThe volcano eruption sent ash over the town and lava.\n"
            )
            second = Proc(tmp_path, env, "serve", "--port", "0")
            procs.append(second)
            second.wait_for(r"serving HTTP on port \d+")
            second.wait_for(r"digest catch-up|digest .* already sent|nothing due", 60)
            time.sleep(3)  # room for a wrong second DM or digest to arrive
        finally:
            for proc in procs:
                proc.kill()
        assert len(posts_to(fake, FOLLOWER)) == 1
        assert len(posts_to(fake, CONFIGURED)) == 1
        assert len(posts_to(fake, SPORTS)) == 1
        assert "Traceback" not in "".join(p.output for p in procs)
