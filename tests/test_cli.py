"""The CLI, run as a real subprocess, as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return tmp_path


def newsbot(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_", "DIGEST_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_search_ingests_first_then_answers_json(workdir: Path) -> None:
    out = newsbot(workdir, "search", "Bandiagra mercinaries", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"query", "corrected", "hits", "hint", "took_ms"}
    assert doc["query"] == "Bandiagra mercinaries"
    assert doc["corrected"] == "Bandiagara mercenaries"
    hit = doc["hits"][0]
    assert set(hit) == {
        "title",
        "path",
        "paragraph",
        "text",
        "score",
        "author",
        "published",
        "url",
        "source",
    }
    assert hit["source"] is None and hit["url"] is None  # this seed has neither
    assert hit["path"] == "seeds/003_89b01d93bc535f51.txt"
    assert hit["paragraph"] == 11
    assert hit["author"] == "Thomas Brooke"
    assert hit["published"].startswith("2023-09-23")
    assert (workdir / "newsbot-data" / "newsbot.db").exists()  # the default database location


def test_readable_output_marks_words(workdir: Path) -> None:
    out = newsbot(workdir, "search", "Kremlyn")
    assert out.returncode == 0, out.stderr
    assert "Did you mean: Kremlin" in out.stdout
    assert "**Kremlin**" in out.stdout
    assert "paragraph 7 of 13" in out.stdout  # 1-based for people, as in Slack


def test_batch_json_one_object_per_line(workdir: Path) -> None:
    batch = workdir / "queries.txt"
    batch.write_text("Timbuktoo\n2,700\n\nzzqx\n", encoding="utf-8")
    out = newsbot(workdir, "search", "--batch", str(batch), "--json", "--limit", "2")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["query"] for d in lines] == ["Timbuktoo", "2,700", "", "zzqx"]
    assert lines[0]["hits"][0]["paragraph"] == 0
    assert "2,700" in lines[1]["hits"][0]["text"]
    assert lines[2]["hits"] == [] and lines[3]["hits"] == []
    assert all(len(d["hits"]) <= 2 for d in lines)


def test_ingest_counts_and_global_options(workdir: Path, tmp_path: Path) -> None:
    (workdir / "seeds" / "bad.txt").write_bytes(b"\x00\x00binary")
    db = tmp_path / "elsewhere" / "x.db"
    out = newsbot(workdir, "--db", str(db), "ingest")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("added 2, updated 0, removed 0, unchanged 0, skipped 1")
    assert "skipped seeds/bad.txt: binary file" in out.stdout
    assert db.exists()
    again = newsbot(workdir, "ingest", "--db", str(db))  # options after the command work too
    assert "added 0, updated 0, removed 0, unchanged 2" in again.stdout


def test_articles_option_and_env(workdir: Path) -> None:
    other = workdir / "other"
    other.mkdir()
    (other / "a.txt").write_text("Zebra census\n\nThe zebra census counted 4,000 zebras.\n")
    out = newsbot(workdir, "--articles", str(other), "search", "zebras", "--json")
    assert json.loads(out.stdout)["hits"][0]["title"] == "Zebra census"
    out = newsbot(workdir, "search", "zebra", "--json", env={"NEWSBOT_ARTICLES_DIR": str(other)})
    assert json.loads(out.stdout)["hits"][0]["title"] == "Zebra census"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["search"], {}, "give keywords"),
        (["search", "mali", "--limit", "0"], {}, "--limit must be between 1 and 50"),
        (["search", "--batch", "missing.txt"], {}, "cannot read missing.txt"),
        (["search", "mali"], {"DIGEST_TIME": "7am"}, "DIGEST_TIME='7am' must be HH:MM"),
        (["search", "mali"], {"SLACK_BOT_TOKEN": "oops"}, "SLACK_BOT_TOKEN must start with"),
    ],
)
def test_errors_are_one_clear_line_and_nonzero(
    workdir: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    out = newsbot(workdir, *args, env=env)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert "oops" not in out.stderr  # secrets are never echoed


def test_summarize_files_json_and_readable(workdir: Path) -> None:
    seed = "seeds/003_89b01d93bc535f51.txt"
    (workdir / "empty.txt").write_bytes(b"")
    out = newsbot(workdir, "summarize", seed, "empty.txt", "--sentences", "2", "--json")
    assert out.returncode == 1  # one file was bad; the good one is still summarized
    assert "empty.txt: empty file" in out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"path", "title", "sentences"}
    assert doc["path"] == seed and doc["title"].startswith("Has President Macron")
    assert len(doc["sentences"]) == 2
    assert all("AP Photo" not in s and "author:" not in s for s in doc["sentences"])
    out = newsbot(workdir, "summarize", seed)
    assert out.returncode == 0 and out.stdout.count("\n  - ") == 3


def test_corrupt_database_is_a_clear_error(workdir: Path) -> None:
    db = workdir / "broken.db"
    db.write_bytes(b"this is not sqlite" * 100)
    out = newsbot(workdir, "--db", str(db), "search", "mali")
    assert out.returncode == 1
    assert "cannot be used" in out.stderr and "Traceback" not in out.stderr


def test_hostile_query_via_cli(workdir: Path) -> None:
    out = newsbot(workdir, "search", '"; DROP TABLE x; NEAR( *', "--json")
    assert out.returncode == 0, out.stderr
    # The operators and quotes are plain words here, never FTS or SQL syntax.
    assert all(h["text"] for h in json.loads(out.stdout)["hits"])
    assert json.loads(newsbot(workdir, "search", "mali", "--json").stdout)["hits"]


def test_output_cut_short_by_a_pipe_is_no_error(workdir: Path) -> None:
    """`newsbot search ... | head -1`: the reader leaves early; no traceback, exit 0."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "SLACK_"))}
    newsbot(workdir, "ingest")
    (workdir / "queries.txt").write_text("mali troops\n" * 3000, encoding="utf-8")
    out = subprocess.run(  # ~MBs of answers: far more than a pipe holds
        f"{sys.executable} -m bot search --batch queries.txt --json | head -1",
        shell=True,
        cwd=workdir,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.count("\n") == 1
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
