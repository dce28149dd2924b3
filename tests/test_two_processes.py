"""Two bot processes on one database: one digest per channel and day; searches work in both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from fakeslack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SCOPES = json.loads((ROOT / "manifest.json").read_text())["oauth_config"]["scopes"]["bot"]


def start(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_post_one_digest_and_both_search(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT", "SLACK", "DIGEST"))}
    with FakeSlack(scopes=",".join(SCOPES)) as fake:
        env = {
            **base,
            "SLACK_BOT_TOKEN": "xoxb-two-processes",
            "SLACK_API_URL": fake.api_url,
            "DIGEST_CHANNEL": "C0DESK0001,C0DESK0002",
            "NEWSBOT_DB": str(tmp_path / "shared.db"),
        }
        subprocess.run([sys.executable, "-m", "bot", "ingest"], cwd=tmp_path, env=env, check=True)
        for _ in range(3):  # three races in a row; later ones find the digests already sent
            procs = [start(tmp_path, env, "digest", "--post") for _ in range(2)]
            outs = [p.communicate(timeout=120) for p in procs]
            assert all(p.returncode in (0, 1) for p in procs), outs
            assert "Traceback" not in "".join(o[1] for o in outs)
        # The last race: both processes see both digests already delivered.
        assert all(out.count("already sent") == 2 for out, _ in outs), outs
        posts = fake.calls_to("chat.postMessage")
        per_channel = sorted(c.params["channel"] for c in posts)
        assert per_channel == ["C0DESK0001", "C0DESK0002"]  # exactly one digest each
        searches = [start(tmp_path, env, "search", "Bandiagra", "--json") for _ in range(2)]
        for proc in searches:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert json.loads(out)["hits"][0]["paragraph"] == 11
