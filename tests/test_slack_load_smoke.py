"""A small run of benchmarks/slack_load.py: it runs, and every command is answered exactly once."""

from __future__ import annotations

from benchmarks import slack_load


def test_load_check_smoke(capsys):
    result = slack_load.run(commands=24, senders=4, articles=None)
    assert result["answered_once"] == 24
    assert result["missing"] == 0 and result["duplicates"] == 0
    rows = result["rows"]
    assert rows["/news ack, 4 senders"]["n"] == 24
    assert rows["/news answer, 4 senders"]["n"] == 24
    table = capsys.readouterr().out
    assert "GET /healthz (baseline)" in table and "exactly once: 24/24" in table
