"""Follows in the core: the percolator, the alert ledger and the new-article queue, over a real
archive (and, for the race, real processes on one database)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from fakeslack import FakeSlack

from bot.archive import Archive
from bot.follows import Percolator, take_alerts
from bot.models import Follow
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    path = folder / f"{name}.txt"
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def alerted(archive: Any) -> list[tuple[str, str]]:
    """(user, article title) of each alert taken now (claimed in the ledger)."""
    return [(a.user_id, m.article.title) for a in archive.take_alerts() for m in a.matches]


def test_follow_rejects_a_malformed_query_with_the_search_hint(archive: Any) -> None:
    assert archive.follow("U1", "") == archive.search("").hint
    assert archive.follow("U1", "-mali") == archive.search("-mali").hint
    saved = archive.follow("U1", '"french troops" by:nobody after:2020-01-01')
    assert isinstance(saved, Follow)
    assert archive.follow("U1", '"french troops" by:nobody after:2020-01-01').startswith(
        "You already follow that query"
    )


def test_a_new_matching_article_is_alerted_once_and_old_ones_never(archive: Any) -> None:
    folder = archive.settings.articles_dir
    assert archive.take_alerts() == []  # the seeds were queued before any follow existed
    archive.follow("U1", "volcano eruption")
    archive.follow("U2", "wagner mercenaries")  # only old (seed) articles match this
    write_article(folder, "volcano", "Volcano erupts", "The volcano eruption sent ash high.")
    write_article(folder, "weather", "Rain again", "It rained all week in the capital.")
    archive.ingest()
    assert alerted(archive) == [("U1", "Volcano erupts")]
    assert alerted(archive) == []  # taken: never twice
    # An updated article is not alerted again, even when it now matches another follow.
    archive.follow("U3", "lava flows")
    write_article(
        folder, "volcano", "Volcano erupts", "The volcano eruption sent ash high. Lava flows."
    )
    report = archive.ingest()
    assert report.updated and not report.new_ids
    assert alerted(archive) == []
    ledger = archive.store.alert_rows()
    assert [(f, u) for f, _, u, _ in ledger] == [(1, "U1")]


def test_an_article_first_seen_before_the_follow_is_not_alerted(archive: Any) -> None:
    folder = archive.settings.articles_dir
    write_article(folder, "quake", "Quake hits coast", "An earthquake hit the coast at dawn.")
    archive.ingest()  # queued, not yet taken
    archive.follow("U1", "earthquake")
    assert alerted(archive) == []


def test_filters_apply_to_follows(archive: Any) -> None:
    folder = archive.settings.articles_dir
    archive.follow("U1", "harbour -strike")
    archive.follow("U2", '"harbour strike"')
    archive.follow("U3", "harbour by:dupont")
    path = write_article(folder, "harbour", "Harbour strike", "The harbour strike goes on.")
    path.write_text(
        "Harbour strike\nAuthor: Jeanne Dupont\n\nThe harbour strike goes on.\n", encoding="utf-8"
    )
    archive.ingest()
    assert sorted(u for u, _ in alerted(archive)) == ["U2", "U3"]


def test_alerts_survive_a_restart_once(tmp_path: Path, archive: Any) -> None:
    folder = archive.settings.articles_dir
    archive.follow("U1", "volcano")
    write_article(folder, "volcano", "Volcano erupts", "The volcano woke up.")
    archive.ingest()
    archive.close()
    again = Archive.open(archive.settings)  # a restart: the queue is in the database
    try:
        assert alerted(again) == [("U1", "Volcano erupts")]
        again.close()
        third = Archive.open(archive.settings)
        assert alerted(third) == []
        third.close()
    finally:
        again.close()


def test_the_claim_holds_even_if_the_queue_is_run_twice(archive: Any) -> None:
    """A retry that ran the same articles again (the queue refilled) sends nothing twice."""
    folder = archive.settings.articles_dir
    archive.follow("U1", "volcano")
    write_article(folder, "volcano", "Volcano erupts", "The volcano woke up.")
    new = archive.ingest().new_ids
    assert alerted(archive) == [("U1", "Volcano erupts")]
    store = archive.store
    with sqlite3.connect(archive.settings.db_path) as db:  # as if a crash left them queued
        db.executemany("INSERT INTO follow_queue(article_id) VALUES (?)", [(i,) for i in new])
    assert take_alerts(store, archive._index_rows) == []


def test_every_ingest_path_reports_new_ids_to_listeners(archive: Any) -> None:
    seen: list[list[int]] = []
    archive.add_ingest_listener(lambda report: seen.append(list(report.new_ids)))
    archive.ingest()  # nothing new: no call
    folder = archive.settings.articles_dir
    write_article(folder, "a", "A story", "Something happened.")
    new = archive.ingest().new_ids
    assert seen == [new] and len(new) == 1
    assert archive.search("something happened").hits  # the index committed before the call


def test_percolator_runs_only_over_its_own_passages(archive: Any) -> None:
    rows = list(archive._index_rows(None))
    some = [r for r in rows if r[1] == rows[0][1]]
    with Percolator(some) as percolator:
        assert percolator.match("zzzzunknownword") == {}
        first_word = some[0][2].split()[0]  # the body as index text
        assert set(percolator.match(first_word)) == {rows[0][1]}


RACER = textwrap.dedent(
    """
    import sys
    from slack_sdk import WebClient
    from bot.archive import Archive
    from bot.settings import Settings
    from bot.slack.alerts import AlertSender
    archive = Archive.open(Settings.from_env())
    sender = AlertSender(archive, WebClient(token="xoxb-race", base_url=sys.argv[1]))
    print(sender.send_pending())
    """
)


def test_two_processes_send_each_alert_once(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    write_article(folder, "old", "Old volcano", "An old volcano story.")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT", "SLACK", "DIGEST"))}
    env = {
        **base,
        "NEWSBOT_DB": str(tmp_path / "shared.db"),
        "NEWSBOT_ARTICLES_DIR": str(folder),
        "PYTHONPATH": str(ROOT),
    }
    settings_env = Settings.from_env(env)
    archive = Archive.open(settings_env)
    archive.ingest()
    archive.follow("U1", "volcano")
    archive.follow("U2", "volcano lava")
    archive.close()
    with FakeSlack() as fake:
        for round_ in range(3):
            write_article(folder, f"new{round_}", f"Volcano {round_}", "The volcano spat lava.")
            subprocess.run(
                [sys.executable, "-m", "bot", "ingest"], cwd=tmp_path, env=env, check=True
            )
            racers = [
                subprocess.Popen(
                    [sys.executable, "-c", RACER, fake.api_url],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            outs = [p.communicate(timeout=120) for p in racers]
            assert all(p.returncode == 0 for p in racers), outs
            assert "Traceback" not in "".join(err for _, err in outs)
        dms = fake.calls_to("chat.postMessage")
        assert sorted(c.params["channel"] for c in dms) == ["U1"] * 3 + ["U2"] * 3
        texts = " ".join(str(c.params.get("blocks")) for c in dms)
        assert "Old volcano" not in texts  # first seen before the follows
        for n in range(3):
            assert texts.count(f"Volcano {n}") == 2
