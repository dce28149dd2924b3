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


def test_load_check_two_workers_on_postgres_with_a_kill_smoke(capsys, pg_database):
    """Two workers on one PostgreSQL database; one is killed halfway: the other loses nothing."""
    result = slack_load.run_workers(
        commands=24, senders=4, articles=None, pg_url=pg_database, kill=True
    )
    assert result["workers"] == 2 and result["answered_once"] >= 12
    assert result["missing"] == 0 and result["duplicates"] == 0
    assert "kill -9 of worker 2" in capsys.readouterr().out


def test_load_check_with_the_senders_as_threads_smoke(capsys):
    """The earlier way of sending (threads of the benchmark process) runs, for comparison."""
    result = slack_load.run(commands=12, senders=3, articles=None, sender_kind="threads")
    assert result["answered_once"] == 12 and result["rows"]["/news ack, 3 senders"]["n"] == 12
