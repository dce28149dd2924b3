"""``newsbot console``: lines in, the real Bolt app's answers rendered out."""

from __future__ import annotations

import io

from bot.settings import Settings
from bot.slack.console import Console, run_console


def run(archive, *lines: str) -> str:
    out = io.StringIO()
    code = run_console(Settings(), archive, stdin=io.StringIO("\n".join(lines) + "\n"), out=out)
    assert code == 0
    return out.getvalue()


def test_console_answers_command_dm_mention_and_buttons(archive):
    text = run(archive, "/news mali", ":more", ":share 2", "hello", "@newsbot Bandiagra", ":quit")
    answers = text.split("── newsbot")
    assert "(only visible to you)" in answers[1] and "*Mali*" in answers[1]
    assert "Results 1–5" in answers[1] and "[More results]" in answers[1]
    assert "replacing the previous answer" in answers[2] and "Results 6–10" in answers[2]
    assert "posted in C0CONSOLE" in answers[3] and "Shared by @U0CONSOLE" in answers[3]
    assert "posted in D0CONSOLE" in answers[4] and "/news sources" in answers[4]
    assert "(in a thread)" in answers[5] and "Did you mean *Bandiagara*?" in answers[5]


def test_console_shows_article_text_literally(archive):
    folder = archive.settings.articles_dir
    (folder / "x.txt").write_text("Okapi news\n\nThe okapi said <!channel> & left.\n", "utf-8")
    archive.ingest()
    text = run(archive, "okapi")
    assert "The *okapi* said <!channel> & left." in text


def test_console_goes_through_request_verification(archive):
    console = Console(Settings(), archive, io.StringIO())
    try:
        console.secret = "not-the-app-secret"  # requests now carry a wrong signature
        assert console.command("/news mali") == 401
        assert console.local.outputs.empty()
    finally:
        console.close()


def test_console_explains_unknown_buttons(archive):
    text = run(archive, ":more", ":frobnicate")
    assert "has no more button" in text and "unknown command :frobnicate" in text
