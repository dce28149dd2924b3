"""Log lines: level, component and context id on each; secrets masked whatever logged them."""

from __future__ import annotations

import io
import logging

from bot.logs import log_context, redact, setup_logging


def test_lines_carry_component_and_context_and_hide_tokens() -> None:
    stream = io.StringIO()
    setup_logging("INFO", stream)
    log = logging.getLogger("newsbot.slack")
    with log_context("req", "Ev0001"):
        log.info("answered with token xoxb-1234-abcd and xapp-1-A0-99 in hand")
    log.warning("outside")
    logging.getLogger("newsbot.archive").debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert " INFO slack [req=Ev0001] answered with token xoxb-*** and xapp-*** in hand" in lines[0]
    assert " WARNING slack [-] outside" in lines[1]
    assert "1234" not in stream.getvalue()
    setup_logging("WARNING")


def test_redact_covers_query_strings() -> None:
    assert redact("POST /api?token=xoxp-1-2-3&x=1") == "POST /api?token=***&x=1"
    assert redact("signing_secret=abc123 next") == "signing_secret=*** next"


def test_database_passwords_are_masked():
    from bot.logs import redact

    line = redact("connect postgresql://newsbot:s3cret@db:5432/news failed; password=hunter2 x")
    assert "s3cret" not in line and "hunter2" not in line
    assert "postgresql://newsbot:***@db:5432/news" in line
