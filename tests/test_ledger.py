"""The digest ledger on both back-ends (a SQLite file, the real PostgreSQL server): claims,
leases, fencing, backoff, in-doubt rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import all_at_once

from bot.digest.ledger import Claim, Ledger, Refusal, retry_delay
from bot.store import open_store

DAY = date(2024, 3, 11)
T0 = datetime(2024, 3, 11, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """Where the ledger lives; each Ledger below opens its own store on it, as a process would."""
    if request.param == "sqlite":
        return tmp_path / "ledger.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock():
    return Clock()


_OPENED: list = []


def ledger_on(db, clock, **kw) -> Ledger:
    store = open_store(db)
    _OPENED.append(store)
    return Ledger(store, clock=clock, **kw)


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while _OPENED:
        _OPENED.pop().close()


def granted(result: Claim | Refusal) -> Claim:
    assert isinstance(result, Claim), result
    return result


def test_claim_is_exclusive_while_the_lease_runs(db, clock):
    a, b = ledger_on(db, clock), ledger_on(db, clock)
    claim = granted(a.claim("C1", DAY))
    assert claim.attempts == 1 and not claim.in_doubt
    refused = b.claim("C1", DAY)
    assert isinstance(refused, Refusal) and refused.reason == "busy"
    assert refused.row.claimed_by == claim.token
    # Another channel or another day is independent.
    granted(b.claim("C2", DAY))
    granted(b.claim("C1", DAY + timedelta(days=1)))


def test_token_names_host_and_pid(db, clock):
    import os

    claim = granted(ledger_on(db, clock).claim("C1", DAY))
    host, pid, unique = claim.token.split(":")
    assert host and int(pid) == os.getpid() and len(unique) == 12


def test_expired_lease_is_taken_over_and_the_old_holder_is_fenced(db, clock):
    a, b = ledger_on(db, clock), ledger_on(db, clock)
    old = granted(a.claim("C1", DAY))
    clock.advance(minutes=11)  # past the 10-minute lease: the holder crashed or hangs
    new = granted(b.claim("C1", DAY))
    assert new.attempts == 2
    assert not new.in_doubt  # the old holder never started posting
    # The stale holder may not post any more ...
    assert a.begin_post(old, T0, T0) is False
    assert a.mark_failed(old, "late") is False
    # ... while the new one may.
    assert b.begin_post(new, T0 - timedelta(hours=24), T0) is True
    assert b.mark_sent(new, "111.1") is True
    row = b.get("C1", DAY)
    assert (row.status, row.ts, row.claimed_by, row.attempts) == ("sent", "111.1", new.token, 2)


def test_sent_is_never_claimed_again(db, clock):
    led = ledger_on(db, clock)
    claim = granted(led.claim("C1", DAY))
    assert led.begin_post(claim, T0 - timedelta(hours=1), T0)
    assert led.mark_sent(claim, "1.0")
    for _ in range(3):
        clock.advance(days=1)
        refused = led.claim("C1", DAY, ignore_backoff=True)
        assert isinstance(refused, Refusal) and refused.reason == "sent"
        assert refused.row.ts == "1.0"


def test_mark_sent_twice_reports_a_duplicate(db, clock, caplog):
    led = ledger_on(db, clock)
    claim = granted(led.claim("C1", DAY))
    assert led.mark_sent(claim, "1.0")
    assert led.mark_sent(claim, "2.0") is False
    assert "duplicate" in caplog.text
    assert led.get("C1", DAY).ts == "1.0"


def test_failed_row_waits_for_its_backoff_then_is_retried(db, clock):
    led = ledger_on(db, clock)
    claim = granted(led.claim("C1", DAY))
    assert led.begin_post(claim, T0, T0)
    assert led.mark_failed(claim, "not_in_channel")
    row = led.get("C1", DAY)
    assert row.status == "failed" and row.last_error == "not_in_channel"
    assert row.sent_at is None and not row.in_doubt  # nothing reached the channel
    refused = led.claim("C1", DAY)
    assert isinstance(refused, Refusal) and refused.reason == "waiting"
    clock.advance(seconds=retry_delay(1).total_seconds())
    again = granted(led.claim("C1", DAY))
    assert again.attempts == 2 and not again.in_doubt


def test_ignore_backoff_retries_at_once(db, clock):
    led = ledger_on(db, clock)
    claim = granted(led.claim("C1", DAY))
    led.mark_failed(claim, "boom", retry_after=timedelta(hours=1))
    assert isinstance(led.claim("C1", DAY), Refusal)
    granted(led.claim("C1", DAY, ignore_backoff=True))


def test_backoff_grows_and_is_capped():
    delays = [retry_delay(n) for n in range(1, 10)]
    assert delays == sorted(delays)
    assert delays[0] == timedelta(minutes=1)
    assert max(delays) == timedelta(minutes=30)


def test_crash_after_the_post_left_is_in_doubt(db, clock):
    a, b = ledger_on(db, clock), ledger_on(db, clock)
    claim = granted(a.claim("C1", DAY))
    assert a.begin_post(claim, T0 - timedelta(hours=24), T0)
    # crash: never marked sent nor failed
    clock.advance(minutes=30)
    taken = granted(b.claim("C1", DAY))
    assert taken.in_doubt
    assert taken.previous is not None and taken.previous.covers_to == T0


def test_timeout_failure_keeps_the_row_in_doubt_until_released(db, clock):
    led = ledger_on(db, clock)
    claim = granted(led.claim("C1", DAY))
    led.begin_post(claim, T0, T0)
    led.mark_failed(claim, "timeout", in_doubt=True, retry_after=timedelta(0))
    assert led.get("C1", DAY).in_doubt
    assert led.release_in_doubt("C1", DAY)
    assert not led.get("C1", DAY).in_doubt
    assert not granted(led.claim("C1", DAY)).in_doubt


def test_last_delivered_is_the_end_of_the_latest_sent_window(db, clock):
    led = ledger_on(db, clock)
    assert led.last_delivered("C1") is None
    ends = [T0, T0 + timedelta(days=1, microseconds=5), T0 + timedelta(days=2)]
    for i, end in enumerate(ends):
        claim = granted(led.claim("C1", DAY + timedelta(days=i)))
        led.begin_post(claim, end - timedelta(days=1), end)
        led.mark_sent(claim, f"{i}.0")
    failed = granted(led.claim("C1", DAY + timedelta(days=3)))
    led.begin_post(failed, ends[-1], ends[-1] + timedelta(days=1))
    led.mark_failed(failed, "5xx")
    assert led.last_delivered("C1") == ends[-1]  # the failed one does not count
    assert led.last_delivered("C2") is None


def test_threads_racing_for_one_claim_get_exactly_one(db, clock):
    ledgers = [ledger_on(db, clock) for _ in range(8)]
    results: list[Claim | Refusal] = all_at_once(lambda led: led.claim("C1", DAY), ledgers)
    assert sum(isinstance(r, Claim) for r in results) == 1
    assert sorted(r.reason for r in results if isinstance(r, Refusal)) == ["busy"] * 7
