"""A corpus of bad files ingests the good ones and names each bad one (issue 5).

Root ignores file modes, and CI runs as root: there the bot runs under ``unshare --user``, in a
user namespace where it keeps its uid but loses the power to override file permissions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def newsbot(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_corpus_ingests_the_good_and_names_the_bad(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for seed in (ROOT / "seeds").glob("*.txt"):
        shutil.copy(seed, articles / seed.name)
    (articles / "empty.txt").write_bytes(b"")
    (articles / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    # Cut in the middle of a multibyte character: read with the cp1252 fallback and a warning.
    (articles / "truncated.txt").write_bytes("Café owners\n\nThe café in Sávaré".encode()[:-1])
    with open(articles / "huge.txt", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB
    (articles / "folder.txt").mkdir()
    (articles / "loop").symlink_to(articles, target_is_directory=True)
    (articles / "dangling.txt").symlink_to(articles / "nowhere.txt")
    secret = articles / "no-permission.txt"
    secret.write_text("Locked\n\nNobody may read this.\n")
    secret.chmod(0o000)
    out = newsbot(tmp_path, "--db", str(tmp_path / "n.db"), "ingest", str(articles))
    assert out.returncode == 0, out.stderr
    report = out.stdout
    assert report.startswith("added 3, updated 0, removed 0, unchanged 0, skipped 5"), report
    assert "skipped " + str(articles / "empty.txt") + ": empty file" in report
    assert "skipped " + str(articles / "binary.txt") + ": binary file" in report
    assert "skipped " + str(articles / "huge.txt") + ": too large (51200 KiB" in report
    assert (
        "skipped " + str(articles / "no-permission.txt") + ": cannot read: Permission denied"
        in report
    )
    assert "skipped " + str(articles / "dangling.txt") + ": cannot read" in report
    assert "warning " + str(articles / "truncated.txt") + ": not valid UTF-8" in report
    assert "Traceback" not in out.stderr
    # The good ones are searchable, the truncated one included.
    db, folder = str(tmp_path / "n.db"), str(articles)
    for query, title in (("Bandiagara", "Has President Macron"), ("cafe savare", "Café owners")):
        found = newsbot(tmp_path, "--db", db, "--articles", folder, "search", query, "--json")
        assert found.returncode == 0, found.stderr
        assert f'"title": "{title}' in found.stdout
