"""Slack load check: slash commands against HTTP mode on loopback, acked fast and answered once.

    .venv/bin/python -m benchmarks.slack_load                        # 200 commands, 20 senders
    .venv/bin/python -m benchmarks.slack_load --commands 1000 --senders 50 --articles DIR

The real bot (``build_app`` served by waitress, as ``newsbot serve`` does in HTTP mode) answers
correctly signed ``/news`` requests; its Web API calls and ``response_url`` posts go to the fake
Slack from the tests (``tests/fakeslack.py``). Measured in one run, on the same server:

- ``GET /healthz``: the baseline, a loopback round trip through waitress without Bolt;
- ``/news`` ack, 1 sender: HTTP response time (the ack Slack waits for, 3 s at most) alone;
- ``/news`` ack, N senders: the same under N concurrent senders;
- ``/news`` answer: from sending the command to the search result arriving at the response_url.

Every command gets its own response_url; after the run each must have received exactly one answer.
Exit code 1 when any command was not answered exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakeslack import FakeSlack  # noqa: E402

from bot.archive import Archive  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack.app import build_app  # noqa: E402
from bot.slack.serve import HttpServer  # noqa: E402

SECRET = "bench-signing-secret"
QUERIES = [
    "wagner",
    "mali troops",
    "mercinaries",
    "Bandiagra",
    "macron withdrawal",
    "french ambassador",
    "sources",
    "help",
    "zzqxv nothing",
    "barkhane",
]
ACK_TARGET_MS = 300.0


@dataclass
class Stats:
    name: str
    samples: list[float]  # milliseconds

    def pct(self, p: float) -> float:
        data = sorted(self.samples)
        if not data:
            return float("nan")
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k]


def _post_command(url: str, verifier: SignatureVerifier, text: str, response_url: str) -> float:
    body = urlencode(
        {
            "team_id": "TBENCH",
            "channel_id": "CBENCH",
            "user_id": "UBENCH",
            "command": "/news",
            "text": text,
            "response_url": response_url,
            "trigger_id": f"t.{uuid.uuid4().hex}",
        }
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
    }
    started = time.perf_counter()
    with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=10) as resp:
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
    return (time.perf_counter() - started) * 1000


def _get(url: str) -> float:
    started = time.perf_counter()
    with urlopen(url, timeout=10) as resp:
        resp.read()
    return (time.perf_counter() - started) * 1000


def serve_child(articles: Path, db: Path, api_url: str, threads: int) -> int:
    """The bot in its own process (as in production), so the load generator does not share its
    interpreter lock. Prints the port, serves until stdin closes."""
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    archive = Archive.open(Settings(db_path=db, articles_dir=articles))
    archive.ingest()
    settings = Settings(bot_token="xoxb-bench", slack_api_url=api_url, signing_secret=SECRET)
    server = HttpServer(
        build_app(settings, archive), archive, host="127.0.0.1", port=0, threads=threads
    )
    server.start()
    print(f"PORT {server.port}", flush=True)
    sys.stdin.read()
    server.stop()
    archive.close()
    return 0


def run(
    commands: int, senders: int, articles: Path | None, *, threads: int = 16, quiet: bool = False
) -> dict:
    """Run the load check; returns the numbers (also printed as a table unless ``quiet``)."""
    with tempfile.TemporaryDirectory(prefix="newsbot-load-") as tmp, FakeSlack() as fake:
        folder = Path(tmp) / "articles"
        shutil.copytree(articles or ROOT / "seeds", folder)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.slack_load",
                "--child",
                "--articles",
                str(folder),
                "--db",
                str(Path(tmp) / "db" / "newsbot.db"),
                "--api-url",
                fake.api_url,
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = child.stdout.readline() if child.stdout else ""
            if not line.startswith("PORT "):
                raise RuntimeError(f"the bot process did not start: {line!r}")
            url = f"http://127.0.0.1:{int(line.split()[1])}"
            return _measure(fake, url, commands, senders, quiet)
        finally:
            if child.stdin:
                child.stdin.close()
            child.wait(timeout=30)


def _measure(fake: FakeSlack, url: str, commands: int, senders: int, quiet: bool) -> dict:
    events = url + "/slack/events"
    verifier = SignatureVerifier(SECRET)
    # warm-up: first requests pay for auth.test, index readers, thread start-up
    for q in QUERIES[:3]:
        _post_command(events, verifier, q, fake.response_url())
    fake.wait_until(lambda: len(fake.posted) >= 3, timeout=30)

    with ThreadPoolExecutor(senders) as pool:
        health = list(pool.map(lambda _: _get(url + "/healthz"), range(commands)))

    single = [
        _post_command(events, verifier, QUERIES[i % len(QUERIES)], fake.response_url())
        for i in range(min(50, commands))
    ]

    urls = [fake.response_url() for _ in range(commands)]
    sent_at: dict[str, float] = {}
    lock = threading.Lock()

    def send(i: int) -> float:
        with lock:
            sent_at[urls[i]] = time.monotonic()
        return _post_command(events, verifier, QUERIES[i % len(QUERIES)], urls[i])

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        acks = list(pool.map(send, range(commands)))
    wanted = {u.rsplit("/", 1)[-1] for u in urls}
    with contextlib.suppress(TimeoutError):  # counted below as missing
        fake.wait_until(
            lambda: len({p.response_id for p in fake.posted} & wanted) == len(wanted), timeout=60
        )
    wall = time.perf_counter() - started
    time.sleep(0.5)  # let any duplicate arrive before counting
    counts = {u: len(fake.posted_to(u)) for u in urls}
    answers = [(fake.posted_to(u)[0].at - sent_at[u]) * 1000 for u in urls if counts[u] >= 1]
    once = sum(1 for c in counts.values() if c == 1)
    missing = sum(1 for c in counts.values() if c == 0)
    dupes = sum(1 for c in counts.values() if c > 1)

    rows = [
        Stats("GET /healthz (baseline)", health),
        Stats("/news ack, 1 sender", single),
        Stats(f"/news ack, {senders} senders", acks),
        Stats(f"/news answer, {senders} senders", answers),
    ]
    base = rows[0].pct(50)
    result = {
        "commands": commands,
        "senders": senders,
        "answered_once": once,
        "missing": missing,
        "duplicates": dupes,
        "throughput_per_s": commands / wall if wall else float("nan"),
        "rows": {
            r.name: {"n": len(r.samples), "p50": r.pct(50), "p99": r.pct(99), "max": max(r.samples)}
            for r in rows
            if r.samples
        },
    }
    ack_p99 = rows[2].pct(99)
    result["ack_p99_ms"] = ack_p99
    result["ack_target_met"] = ack_p99 <= ACK_TARGET_MS
    if not quiet:
        print(
            f"{'case':34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p50 / baseline':>15}"
        )
        for r in rows:
            if r.samples:
                print(
                    f"{r.name:34} {len(r.samples):5d} {r.pct(50):8.1f} {r.pct(99):8.1f}"
                    f" {max(r.samples):8.1f} {r.pct(50) / base:14.1f}x"
                )
        print(
            f"\nexactly once: {once}/{commands} answered once, {missing} missing,"
            f" {dupes} duplicated;"
            f" {result['throughput_per_s']:.0f} commands/s end to end"
        )
        verdict = "met" if result["ack_target_met"] else "MISSED"
        print(f"ack p99 {ack_p99:.1f} ms against a target of {ACK_TARGET_MS:.0f} ms: {verdict}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument(
        "--articles", type=Path, default=None, help="articles folder (default seeds/)"
    )
    parser.add_argument("--threads", type=int, default=16, help="waitress threads")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.child:
        return serve_child(ns.articles, ns.db, ns.api_url, ns.threads)
    result = run(ns.commands, ns.senders, ns.articles, threads=ns.threads)
    if ns.json:
        print(json.dumps(result, indent=2))
    return 0 if result["answered_once"] == ns.commands else 1


if __name__ == "__main__":
    raise SystemExit(main())
