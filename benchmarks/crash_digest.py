"""kill -9 a digest run at random moments, N times in a row, and check nothing breaks.

    .venv/bin/python -m benchmarks.crash_digest [--runs 50] [--seed 1] [--channels 2]
    .venv/bin/python -m benchmarks.crash_digest race --db DB --channel-file F --date D ...

Each run is one digest date. A child process delivers that date's digest to every channel
through the real ``bot.digest.delivery`` and ``bot.digest.ledger`` on a real SQLite file,
posting to a "channel" that is an append-only JSON-lines file (a line written and fsync'ed =
Slack accepted the post).
The parent kills it with SIGKILL at a random moment, once or twice, then lets a clean run finish
(the next scheduled retry). After every run it checks:

- the database opens and passes ``PRAGMA integrity_check``;
- every channel has exactly one message for every date so far, and the ledger says sent with
  that message's ts (no digest posted twice, none lost);
- the delivered windows are contiguous and every article appears in exactly one digest per
  channel (no article lost or repeated).

It prints where the kills landed (before the claim, between claim and post, mid-post before or
after the channel accepted, after marking sent) and how the next run resolved them. Exit status
is 1 on any violation. ``race`` runs one child (used by the two-process test).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE_DATE = date(2024, 1, 1)


# -- the child: one digest run ----------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    article_ids: tuple[int, ...]

    @property
    def stories(self) -> tuple[int, ...]:
        return self.article_ids


class FileChannel:
    """A Slack channel stand-in shared by processes: one JSON line per accepted message."""

    def __init__(self, path: Path, post_seconds: float = 0.0) -> None:
        self.path = path
        self.post_seconds = post_seconds

    def post(self, channel: str, content: Content, marker: str) -> str:
        time.sleep(self.post_seconds / 2)  # the request travels
        with open(self.path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            ts = f"{time.time():.6f}"
            line = {
                "channel": channel,
                "marker": marker,
                "ts": ts,
                "pid": os.getpid(),
                "articles": list(content.article_ids),
            }
            f.write(json.dumps(line) + "\n")
            f.flush()
            os.fsync(f.fileno())
        time.sleep(self.post_seconds / 2)  # the answer travels back
        return ts

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            lines = f.read().splitlines()
        # A line cut by a kill cannot happen (written whole under the lock), but be strict:
        return [json.loads(line) for line in lines if line.strip()]

    def find_existing(self, channel: str, marker: str) -> str | None:
        for m in self.messages():
            if m["channel"] == channel and m["marker"] == marker:
                return m["ts"]
        return None


def child_main(args: argparse.Namespace) -> int:
    from bot.digest.delivery import deliver_digest
    from bot.digest.ledger import Ledger
    from bot.store import Store

    store = Store.open(args.db)
    ledger = Ledger(store.conn, lease=timedelta(seconds=args.lease))
    channel_file = FileChannel(Path(args.channel_file), args.post_ms / 1000)

    def build(since: datetime, until: datetime, digest_date: date) -> Content:
        time.sleep(args.build_ms / 1000)
        articles = store.articles(seen_since=since, seen_until=until)
        return Content(tuple(sorted(a.id for a in articles)))

    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    print("ready", flush=True)
    statuses = []
    for channel in args.channel_ids.split(","):
        result = deliver_digest(
            store,
            channel,
            date.fromisoformat(args.date),
            build,
            channel_file.post,
            now=datetime.now(UTC),
            lookback_hours=24,
            skip_empty=False,
            find_existing=channel_file.find_existing,
            ledger=ledger,
        )
        statuses.append(result.status)
    print(json.dumps({"statuses": statuses}), flush=True)
    return 0


# -- the parent: kill, recover, check -----------------------------------------------------------


def child_cmd(ns: argparse.Namespace, day: date, **extra: Any) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.crash_digest",
        "race",
        "--db",
        str(ns.db),
        "--channel-file",
        str(ns.channel_file),
        "--date",
        day.isoformat(),
        "--channel-ids",
        ",".join(ns.channel_ids),
        "--lease",
        str(ns.lease),
        "--build-ms",
        str(ns.build_ms),
        "--post-ms",
        str(ns.post_ms),
    ]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    return cmd


def spawn(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def add_article(db: Path, n: int) -> int:
    from bot.models import Article
    from bot.store import Store, transaction

    store = Store.open(db)
    try:
        with transaction(store.conn):
            article_id, *_ = store.upsert_article(
                f"/crash/{n}.txt",
                Article(path=f"/crash/{n}.txt", title=f"Article {n}", paragraphs=(f"Body {n}.",)),
                10,
                n,
                f"{n:040x}",
            )
        return article_id
    finally:
        store.close()


def kill_site(db: Path, channel: FileChannel, channels: list[str], day: date) -> str:
    """Where did the kill land, judged from what it left behind (first channel not sent)."""
    conn = sqlite3.connect(db)
    try:
        for ch in channels:
            row = conn.execute(
                "SELECT status, sent_at FROM digest_ledger WHERE channel = ? AND digest_date = ?",
                (ch, day.isoformat()),
            ).fetchone()
            posted = channel.find_existing(ch, f"newsbot-digest:{ch}:{day.isoformat()}")
            if row is None:
                return "before claim"
            status, sent_at = row
            if status == "sent":
                continue
            if sent_at is None:
                return "claimed, before post"
            return "mid-post, after accept" if posted else "mid-post, before accept"
        return "after mark sent (or done)"
    finally:
        conn.close()


def check(db: Path, channel: FileChannel, channels: list[str], days: list[date]) -> list[str]:
    problems: list[str] = []
    conn = sqlite3.connect(db)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
        rows = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "SELECT channel, digest_date, status, ts, covers_from, covers_to FROM digest_ledger"
            )
        }
        first_seen = dict(conn.execute("SELECT id, first_seen FROM articles").fetchall())
    finally:
        conn.close()
    messages = channel.messages()
    for ch in channels:
        seen: Counter[int] = Counter()
        previous_end = None
        for day in days:
            marker = f"newsbot-digest:{ch}:{day.isoformat()}"
            mine = [m for m in messages if m["channel"] == ch and m["marker"] == marker]
            row = rows.get((ch, day.isoformat()))
            if len(mine) != 1:
                problems.append(f"{ch} {day}: {len(mine)} messages")
            if row is None or row[0] != "sent":
                problems.append(f"{ch} {day}: ledger says {row and row[0]}")
                continue
            if mine and row[1] != mine[0]["ts"]:
                problems.append(f"{ch} {day}: ledger ts {row[1]} != posted {mine[0]['ts']}")
            if previous_end is not None and row[2] != previous_end:
                problems.append(f"{ch} {day}: window starts {row[2]}, last ended {previous_end}")
            previous_end = row[3]
            for m in mine:
                seen.update(m["articles"])
        repeated = [a for a, n in seen.items() if n > 1]
        if repeated:
            problems.append(f"{ch}: articles in two digests: {repeated}")
        if previous_end is not None:
            covered = {a for a, fs in first_seen.items() if fs < previous_end}
            missing = covered - set(seen)
            if missing:
                problems.append(f"{ch}: articles never in a digest: {sorted(missing)}")
    return problems


def parent_main(ns: argparse.Namespace) -> int:
    rng = random.Random(ns.seed)
    workdir = Path(ns.workdir or tempfile.mkdtemp(prefix="crash-digest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ns.db = workdir / "crash.db"
    ns.channel_file = workdir / "channel.jsonl"
    ns.channel_ids = [f"C{n:03d}CRASH" for n in range(ns.channels)]
    for path in (ns.db, ns.channel_file):
        if path.exists():
            path.unlink()
    channel = FileChannel(ns.channel_file)
    sites: Counter[str] = Counter()
    recoveries: Counter[str] = Counter()
    kills = 0
    days: list[date] = []
    failures = 0
    started = time.monotonic()
    window = (ns.build_ms + ns.post_ms) * len(ns.channel_ids) + 20
    for run in range(ns.runs):
        day = BASE_DATE + timedelta(days=run)
        days.append(day)
        add_article(ns.db, run)
        for _ in range(rng.choice((1, 1, 2))):
            proc = spawn(child_cmd(ns, day))
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready": imports done, the digest run starts now
            time.sleep(rng.uniform(0, window) / 1000)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            sites[kill_site(ns.db, channel, ns.channel_ids, day)] += 1
            time.sleep(ns.lease + 0.05)  # let the dead run's lease expire
        out = subprocess.run(
            child_cmd(ns, day), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            failures += 1
            continue
        statuses = json.loads(out.stdout.splitlines()[-1])["statuses"]
        recoveries.update(statuses)
        problems = check(ns.db, channel, ns.channel_ids, days)
        if problems:
            failures += 1
            print(f"run {run + 1}: " + "; ".join(problems), file=sys.stderr)
    elapsed = time.monotonic() - started

    print(f"crash_digest: {ns.runs} runs, {len(ns.channel_ids)} channels, {kills} kill -9")
    print(f"{'where the kill landed':<28} {'runs':>5}")
    for site in (
        "before claim",
        "claimed, before post",
        "mid-post, before accept",
        "mid-post, after accept",
        "after mark sent (or done)",
    ):
        print(f"{site:<28} {sites[site]:>5}")
    print(f"{'next run, per channel':<28} {'count':>5}")
    for status, n in sorted(recoveries.items()):
        print(f"{status:<28} {n:>5}")
    total = len(channel.messages())
    expected = len(days) * len(ns.channel_ids)
    print(f"messages posted {total}, expected {expected}; runs with a problem: {failures}")
    print(f"elapsed {elapsed:.1f} s; workdir {workdir}")
    return 0 if failures == 0 and total == expected else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--workdir")
    parser.add_argument("--lease", type=float, default=0.4, help="claim lease, seconds")
    parser.add_argument("--build-ms", type=float, default=40)
    parser.add_argument("--post-ms", type=float, default=40)
    sub = parser.add_subparsers(dest="mode")
    race = sub.add_parser("race", help="one child digest run")
    race.add_argument("--db", required=True)
    race.add_argument("--channel-file", required=True)
    race.add_argument("--date", required=True)
    race.add_argument("--channel-ids", default="C001CRASH", help="comma-separated")
    race.add_argument("--lease", type=float, default=0.4)
    race.add_argument("--build-ms", type=float, default=40)
    race.add_argument("--post-ms", type=float, default=40)
    race.add_argument("--start-at", type=float, default=0.0)
    ns = parser.parse_args(argv)
    if ns.mode == "race":
        return child_main(ns)
    return parent_main(ns)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
