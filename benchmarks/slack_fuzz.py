"""Fuzz run: malformed and hostile Slack requests against the bot, counting what went wrong.

    .venv/bin/python -m benchmarks.slack_fuzz                  # 1,500 HTTP requests, 300 envelopes
    .venv/bin/python -m benchmarks.slack_fuzz --http 5000 --socket 1000 --seed 7

The real bot (``build_app`` served by waitress in HTTP mode, and ``GuardedSocketModeHandler`` in
Socket Mode) answers correctly signed requests built by the strategies in ``tests/hostile.py``:
slash commands, button clicks and Events API bodies with values of every type, and bodies that
do not parse. Its Web API calls and response_url posts go to the fake Slack from the tests.

Printed per transport: requests, 4xx, 5xx, slow (acked after 3 s), errors (ERROR lines and
tracebacks), answers sent, injections (answers showing markup the bot did not write) and
over-limit answers (past Block Kit's limits). Exit code 1 when any of the last five is not 0.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import HypothesisDeprecationWarning

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import (  # noqa: E402
    APP_TOKEN,
    SIGNING_SECRET,
    HttpDriver,
    SocketModeDriver,
    bot_settings,
)
from fakeslack import FakeSlack  # noqa: E402
from hostile import FuzzRun, requests, wait_until_quiet  # noqa: E402

from bot.archive import Archive  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack.app import build_app  # noqa: E402
from bot.slack.guard import GuardedSocketModeHandler  # noqa: E402
from bot.slack.serve import HttpServer  # noqa: E402

BAD = ("5xx", "slow", "errors", "injections", "over-limit")
COLUMNS = ("requests", "4xx", *BAD[:3], "answers", *BAD[3:])


def _fuzz(run: FuzzRun, send: Callable[[Any], Any], fake: FakeSlack, n: int, at: int) -> None:
    @seed(at)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(fake, raw=send == run.send_http))
    def one(case: Any) -> None:
        send(case)

    one()
    wait_until_quiet(fake)


def _answers_normally(driver: Any) -> bool:
    reply = driver.command("/news", "wagner")
    return "Wagner" in reply.text or any("Wagner" in str(b) for b in reply.blocks)


def run(http: int, socket: int, at: int = 0, quiet: bool = False) -> dict[str, dict[str, int]]:
    """Fuzz both transports; returns the counts per transport (printed unless ``quiet``)."""
    logging.getLogger("newsbot").setLevel(logging.WARNING)
    # The Socket Mode client's threads use `random` while Hypothesis draws; harmless here.
    warnings.filterwarnings("ignore", category=HypothesisDeprecationWarning)
    rows: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-fuzz-") as tmp:
        shutil.copytree(ROOT / "seeds", Path(tmp) / "seeds")
        archive = Archive.open(
            Settings(db_path=Path(tmp) / "db" / "n.db", articles_dir=Path(tmp) / "seeds")
        )
        archive.ingest()
        try:
            if http:
                with FakeSlack() as fake:
                    app = build_app(bot_settings(fake, signing_secret=SIGNING_SECRET), archive)
                    server = HttpServer(app, archive, host="127.0.0.1", port=0).start()
                    driver = HttpDriver(fake, server.url)
                    with FuzzRun(driver, fake) as fuzz:
                        _fuzz(fuzz, fuzz.send_http, fake, http, at)
                        alive = _answers_normally(driver)
                        fuzz.settle(app)
                        rows["HTTP"] = {**fuzz.summary(), "alive after": int(alive)}
                    server.stop()
            if socket:
                with FakeSlack() as fake:
                    app = build_app(bot_settings(fake, app_token=APP_TOKEN), archive)
                    handler = GuardedSocketModeHandler(app, APP_TOKEN, ping_interval=1)
                    handler.connect()
                    fake.wait_connected()
                    driver = SocketModeDriver(fake)
                    with FuzzRun(driver, fake) as fuzz:
                        _fuzz(fuzz, fuzz.send_socket, fake, socket, at)
                        alive = _answers_normally(driver)
                        fuzz.settle(app)
                        rows["Socket Mode"] = {**fuzz.summary(), "alive after": int(alive)}
                    threading.Thread(target=handler.close, daemon=True).start()
        finally:
            archive.close()
    if not quiet:
        print(f"{'transport':12}" + "".join(f"{c:>12}" for c in (*COLUMNS, "alive after")))
        for name, row in rows.items():
            print(f"{name:12}" + "".join(f"{row[c]:>12}" for c in (*COLUMNS, "alive after")))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", type=int, default=1500, help="HTTP requests to generate")
    parser.add_argument("--socket", type=int, default=300, help="Socket Mode envelopes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.http, args.socket, args.seed)
    print(f"took {time.perf_counter() - started:.0f} s")
    bad = any(row[c] for row in rows.values() for c in BAD) or not all(
        row["alive after"] for row in rows.values()
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
