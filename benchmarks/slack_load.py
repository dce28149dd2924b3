"""Slack load check: slash commands against HTTP mode on loopback, acked fast and answered once.

    .venv/bin/python -m benchmarks.slack_load                        # 200 commands, 20 senders
    .venv/bin/python -m benchmarks.slack_load --commands 1000 --senders 50 --articles DIR
    .venv/bin/python -m benchmarks.slack_load --workers              # + two workers on PostgreSQL

With ``--workers`` the same run also measures two ``--role web`` style workers sharing one
PostgreSQL database (a fresh database on ``--pg-url``'s server, dropped after), the commands spread
over both (``--pg-commands`` from ``--pg-senders``), and then a second pass in which one worker is
killed with SIGKILL mid-run: every command the surviving worker acked must be answered once.

The real bot (``build_app`` served by waitress behind the ack front, as ``newsbot serve`` does in
HTTP mode) answers correctly signed ``/news`` requests; its Web API calls and ``response_url``
posts go to the fake Slack from the tests (``tests/fakeslack.py``). The SQLite process is measured
twice in one run: the bot's server alone (the senders reach it directly, no front: the baseline
the front is judged by) and behind the front. Measured on each:

- ``GET /healthz``: a loopback round trip through waitress without Bolt (through the front, it is
  passed to the bot and back);
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
import os
import shutil
import signal
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

from fakeslack import FakeSlack, response_id  # noqa: E402

from bot.archive import Archive  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack.app import LISTENER_NICENESS_BEHIND_FRONT, build_app  # noqa: E402
from bot.slack.front import FrontProcess  # noqa: E402
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
ACK_TARGET_MS = 50.0  # one worker, 20 senders
WORKERS_ACK_TARGET_MS = 200.0  # two workers on PostgreSQL, 40 senders, on a 2-core machine
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


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


def _command(url: str, verifier: SignatureVerifier, text: str, response_url: str) -> dict:
    """A correctly signed ``/news`` request, as ``http_senders`` takes it."""
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
    )
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
    }
    return {"method": "POST", "url": url, "body": body, "headers": headers}


def _send_in_threads(spec: dict) -> list[dict]:
    """The senders as threads of this process (urllib), the way this benchmark sent before
    ``http_senders``: their own queueing for the interpreter lock is in every number."""
    requests, kill_pid, kill_at = spec["requests"], spec.get("kill_pid"), spec.get("kill_at", -1)
    lock, taken = threading.Lock(), iter(range(len(requests)))

    def one(_: int) -> list[tuple[int, dict]]:
        done = []
        while True:
            with lock:
                i = next(taken, None)
                if i is None:
                    return done
                if kill_pid and i == kill_at:
                    os.kill(kill_pid, signal.SIGKILL)
            req, sent_at, started = requests[i], time.monotonic(), time.perf_counter()
            data = req["body"].encode() if req["method"] == "POST" else None
            try:
                with urlopen(
                    Request(req["url"], data=data, headers=req["headers"], method=req["method"]),
                    timeout=10,
                ) as resp:
                    resp.read()
                    status = resp.status
            except OSError:
                done.append((i, {"sent_at": sent_at, "ms": None, "status": None}))
                continue
            took = (time.perf_counter() - started) * 1000
            done.append((i, {"sent_at": sent_at, "ms": took, "status": status}))

    concurrency = max(1, spec["concurrency"])
    with ThreadPoolExecutor(concurrency) as pool:
        done = [item for part in pool.map(one, range(concurrency)) for item in part]
    return [result for _, result in sorted(done, key=lambda item: item[0])]


def _send_in_process(spec: dict) -> list[dict]:
    """The senders in a process of their own (``benchmarks.http_senders``, one asyncio loop)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.http_senders"],
        cwd=ROOT,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout)


SENDERS = {"process": _send_in_process, "threads": _send_in_threads}


def serve_child(
    articles: Path,
    db: str,
    api_url: str,
    threads: int,
    index_dir: Path | None = None,
    *,
    front: bool = True,
) -> int:
    """The bot in its own process (as in production), so the load generator does not share its
    interpreter lock: the bot's server on loopback and, as ``newsbot serve`` runs it, the ack
    front (``bot.slack.front``) in a process of its own on the port the senders use; without
    ``front``, the senders reach the bot's server directly. Prints the port, serves until stdin
    closes. With a SQLite file it ingests first; on PostgreSQL (a web worker) it builds its own
    index from the database."""
    base = Settings(articles_dir=articles, index_dir=index_dir).with_database(db)
    archive = Archive.open(base)
    if not base.database_url:
        archive.ingest()
    settings = base.with_overrides(
        bot_token="xoxb-bench", slack_api_url=api_url, signing_secret=SECRET
    )
    niceness = LISTENER_NICENESS_BEHIND_FRONT if front else 0  # as newsbot serve sets it
    server = HttpServer(
        build_app(settings, archive, listener_niceness=niceness),
        archive,
        host="127.0.0.1",
        port=0,
        threads=threads,
    )
    server.start()
    gate = (
        FrontProcess(server.url, SECRET, host="127.0.0.1", port=0, log_level="ERROR").start()
        if front
        else None
    )
    print(f"PORT {gate.port if gate else server.port}", flush=True)
    sys.stdin.read()
    if gate:
        gate.stop()
    server.stop()
    archive.close()
    return 0


def _start_child(
    folder: Path,
    db: str,
    api_url: str,
    threads: int,
    index_dir: Path | None = None,
    *,
    front: bool = True,
) -> tuple[subprocess.Popen, str]:
    args = [
        sys.executable,
        "-m",
        "benchmarks.slack_load",
        "--child",
        "--articles",
        str(folder),
        "--db",
        db,
        "--api-url",
        api_url,
        "--threads",
        str(threads),
    ]
    if index_dir is not None:
        args += ["--index-dir", str(index_dir)]
    if not front:
        args.append("--no-front")
    child = subprocess.Popen(
        args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline() if child.stdout else ""
    if not line.startswith("PORT "):
        child.kill()
        raise RuntimeError(f"the bot process did not start: {line!r}")
    return child, f"http://127.0.0.1:{int(line.split()[1])}"


def _stop_child(child: subprocess.Popen) -> None:
    if child.stdin:
        with contextlib.suppress(OSError):
            child.stdin.close()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()


def run(
    commands: int,
    senders: int,
    articles: Path | None,
    *,
    threads: int = 16,
    quiet: bool = False,
    front: bool = True,
    sender_kind: str = "process",
) -> dict:
    """Run the load check on one SQLite process (behind the ack front unless ``front`` is
    False); returns the numbers (also printed as a table unless ``quiet``)."""
    with tempfile.TemporaryDirectory(prefix="newsbot-load-") as tmp, FakeSlack() as fake:
        folder = Path(tmp) / "articles"
        shutil.copytree(articles or ROOT / "seeds", folder)
        child, url = _start_child(
            folder, str(Path(tmp) / "db" / "newsbot.db"), fake.api_url, threads, front=front
        )
        try:
            return _measure(fake, [url], commands, senders, quiet, sender_kind=sender_kind)
        finally:
            _stop_child(child)


@contextlib.contextmanager
def _pg_database(pg_url: str):
    """A fresh database on the server of ``pg_url``, dropped afterwards."""
    import psycopg

    name = f"newsbot_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_url.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_workers(
    commands: int,
    senders: int,
    articles: Path | None,
    pg_url: str,
    *,
    workers: int = 2,
    threads: int = 16,
    kill: bool = False,
    quiet: bool = False,
    sender_kind: str = "process",
) -> dict:
    """``workers`` web workers on one PostgreSQL database, commands spread over them. With
    ``kill``, the last worker gets SIGKILL when half the commands were sent."""
    with (
        tempfile.TemporaryDirectory(prefix="newsbot-load-") as tmp,
        FakeSlack() as fake,
        _pg_database(pg_url) as db,
    ):
        folder = Path(tmp) / "articles"
        shutil.copytree(articles or ROOT / "seeds", folder)
        ingester = Archive.open(
            Settings(articles_dir=folder, index_dir=Path(tmp) / "ingest-index").with_database(db)
        )
        ingester.ingest()
        ingester.close()
        children = [
            _start_child(folder, db, fake.api_url, threads, Path(tmp) / f"index-{i}")
            for i in range(workers)
        ]
        try:
            urls = [url for _, url in children]
            victim = children[-1][0] if kill else None
            return _measure(
                fake, urls, commands, senders, quiet, victim=victim, sender_kind=sender_kind
            )
        finally:
            for child, _ in children:
                if child.poll() is None:
                    _stop_child(child)


def _measure(
    fake: FakeSlack,
    urls: list[str],
    commands: int,
    senders: int,
    quiet: bool,
    *,
    victim: subprocess.Popen | None = None,
    sender_kind: str = "process",
) -> dict:
    """Send ``commands`` spread over ``urls``; with ``victim``, SIGKILL it halfway through."""
    verifier = SignatureVerifier(SECRET)
    events = [u + "/slack/events" for u in urls]
    send = SENDERS[sender_kind]
    # warm-up: first requests pay for auth.test, index readers, thread start-up
    warm = [_command(t, verifier, q, fake.response_url()) for t in events for q in QUERIES[:3]]
    _send_in_threads({"requests": warm, "concurrency": 1})
    fake.wait_until(lambda: len(fake.posted) >= len(warm), timeout=30)

    get = {"method": "GET", "url": urls[0] + "/healthz", "body": "", "headers": {}}
    health = [
        r["ms"] for r in send({"requests": [get] * commands, "concurrency": senders}) if r["ms"]
    ]

    solo_urls = [fake.response_url() for _ in range(min(50, commands))]
    solo = [
        _command(events[0], verifier, QUERIES[i % len(QUERIES)], u) for i, u in enumerate(solo_urls)
    ]
    single = [r["ms"] for r in send({"requests": solo, "concurrency": 1}) if r["ms"]]
    solo_ids = {response_id(u) for u in solo_urls}
    with contextlib.suppress(TimeoutError):  # answered before the next phase starts
        fake.wait_until(lambda: solo_ids <= {p.response_id for p in fake.posted}, timeout=30)
    # one command at a time, each waited for: the answer's latency with nothing else running
    alone = []
    for i in range(min(20, commands)):
        url = fake.response_url()
        request = _command(events[0], verifier, QUERIES[i % len(QUERIES)], url)
        [sent_one] = _send_in_threads({"requests": [request], "concurrency": 1})
        alone.append((fake.wait_for_posted(url, timeout=10)[0].at - sent_one["sent_at"]) * 1000)

    response_urls = [fake.response_url() for _ in range(commands)]
    spec = {
        "requests": [
            _command(events[i % len(events)], verifier, QUERIES[i % len(QUERIES)], u)
            for i, u in enumerate(response_urls)
        ],
        "concurrency": senders,
        "kill_pid": victim.pid if victim is not None else None,
        "kill_at": commands // 2,  # SIGKILL just before this send
    }
    started = time.perf_counter()
    sent = send(spec)
    if victim is None and any(r["ms"] is None or r["status"] != 200 for r in sent):
        raise RuntimeError("a command was not acked with HTTP 200")
    sent_at = {u: r["sent_at"] for u, r in zip(response_urls, sent, strict=True)}
    # a command the killed worker did not ack: Slack would retry it elsewhere
    acked_by = {
        u: i % len(events)
        for i, (u, r) in enumerate(zip(response_urls, sent, strict=True))
        if r["ms"] is not None and r["status"] == 200
    }
    results = [r["ms"] if r["status"] == 200 else None for r in sent]
    acks = [r for r in results if r is not None]
    wanted = {response_id(u) for u in acked_by if victim is None or acked_by[u] == 0}
    with contextlib.suppress(TimeoutError):  # counted below as missing
        fake.wait_until(
            lambda: len({p.response_id for p in fake.posted} & wanted) == len(wanted), timeout=60
        )
    wall = time.perf_counter() - started
    time.sleep(0.5)  # let any duplicate arrive before counting
    counts = {u: len(fake.posted_to(u)) for u in response_urls}
    answers = [
        (fake.posted_to(u)[0].at - sent_at[u]) * 1000 for u in response_urls if counts[u] >= 1
    ]
    survivor = [u for u in acked_by if victim is None or acked_by[u] == 0]
    once = sum(1 for u in survivor if counts[u] == 1)
    missing = sum(1 for u in survivor if counts[u] == 0)
    dupes = sum(1 for c in counts.values() if c > 1)
    # an answer the response_url refused goes to the user through chat.postEphemeral instead:
    # shown, but not counted as answered once above (it cannot be told which command it was)
    fallbacks = len(fake.calls_to("chat.postEphemeral"))
    label = f"{senders} senders" + (f", {len(urls)} workers" if len(urls) > 1 else "")
    rows = [
        Stats("GET /healthz (baseline)", health),
        Stats("/news ack, 1 sender", single),
        Stats("/news answer, 1 at a time", alone),
        Stats(f"/news ack, {label}", acks),
        Stats(f"/news answer, {label}", answers),
    ]
    base = rows[0].pct(50)
    result = {
        "commands": commands,
        "senders": senders,
        "workers": len(urls),
        "acked": len(acks),
        "answered_once": once,
        "missing": missing,
        "duplicates": dupes,
        "ephemeral_fallbacks": fallbacks,
        "killed_worker_acked": sum(1 for u in acked_by if acked_by[u] != 0) if victim else 0,
        "killed_worker_answered": (
            sum(1 for u in acked_by if acked_by[u] != 0 and counts[u]) if victim else 0
        ),
        "throughput_per_s": commands / wall if wall else float("nan"),
        "rows": {
            r.name: {"n": len(r.samples), "p50": r.pct(50), "p99": r.pct(99), "max": max(r.samples)}
            for r in rows
            if r.samples
        },
    }
    ack_p99 = rows[3].pct(99)
    target = ACK_TARGET_MS if len(urls) == 1 else WORKERS_ACK_TARGET_MS
    result["ack_p99_ms"] = ack_p99
    result["ack_target_met"] = ack_p99 <= target
    if not quiet:
        print(
            f"{'case':38} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p50 / baseline':>15}"
        )
        for r in rows:
            if r.samples:
                print(
                    f"{r.name:38} {len(r.samples):5d} {r.pct(50):8.1f} {r.pct(99):8.1f}"
                    f" {max(r.samples):8.1f} {r.pct(50) / base:14.1f}x"
                )
        if victim is not None:
            print(
                f"\nkill -9 of worker 2 after {commands // 2} sends: the survivor acked"
                f" {len(survivor)}: {once} answered once, {missing} missing, {dupes} duplicated"
                f" ({fallbacks} through the ephemeral fallback);"
                f" the killed one had acked {result['killed_worker_acked']} (answered"
                f" {result['killed_worker_answered']}); {commands - len(acks)} refused"
            )
        else:
            print(
                f"\nexactly once: {once}/{commands} answered once, {missing} missing,"
                f" {dupes} duplicated, {fallbacks} through the ephemeral fallback;"
                f" {result['throughput_per_s']:.0f} commands/s end to end"
            )
        verdict = "met" if result["ack_target_met"] else "MISSED"
        print(f"ack p99 {ack_p99:.1f} ms against a target of {target:.0f} ms: {verdict}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument(
        "--articles", type=Path, default=None, help="articles folder (default seeds/)"
    )
    parser.add_argument("--threads", type=int, default=16, help="waitress threads")
    parser.add_argument("--workers", action="store_true", help="also two workers on PostgreSQL")
    parser.add_argument("--pg-url", default=PG_URL, help="a PostgreSQL server to create a db on")
    parser.add_argument("--pg-commands", type=int, default=400)
    parser.add_argument("--pg-senders", type=int, default=40)
    parser.add_argument(
        "--senders-in",
        choices=sorted(SENDERS),
        default="process",
        help="process: asyncio senders in a process of their own (default); threads: threads of"
        " this process, as the benchmark sent before (their own waits are in the numbers)",
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--no-front", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.child:
        return serve_child(
            ns.articles, ns.db, ns.api_url, ns.threads, ns.index_dir, front=not ns.no_front
        )
    kind = ns.senders_in
    print(f"senders: {kind}\n\n== one process, SQLite, the bot's server alone (no ack front) ==")
    results = {
        "sqlite_no_front": run(
            ns.commands, ns.senders, ns.articles, threads=ns.threads, front=False, sender_kind=kind
        )
    }
    print("\n== one process, SQLite, behind the ack front (as newsbot serve runs it) ==")
    results["sqlite"] = run(
        ns.commands, ns.senders, ns.articles, threads=ns.threads, sender_kind=kind
    )
    ok = all(results[k]["answered_once"] == ns.commands for k in ("sqlite", "sqlite_no_front"))
    if ns.workers:
        for key, title, kill in (
            ("postgres", "two web workers, PostgreSQL", False),
            ("postgres_kill", "two web workers, PostgreSQL, one killed with SIGKILL halfway", True),
        ):
            print(f"\n== {title} ==")
            results[key] = run_workers(
                ns.pg_commands,
                ns.pg_senders,
                ns.articles,
                ns.pg_url,
                threads=ns.threads,
                kill=kill,
                sender_kind=kind,
            )
        ok = ok and results["postgres"]["answered_once"] == ns.pg_commands
        ok = ok and results["postgres_kill"]["missing"] == 0
        ok = ok and results["postgres_kill"]["duplicates"] == 0
    if ns.json:
        print(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
