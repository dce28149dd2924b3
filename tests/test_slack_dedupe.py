"""The bounded TTL memory of handled Slack deliveries."""

from __future__ import annotations

from conftest import all_at_once

from bot.slack.dedupe import SeenCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_second_sighting_of_any_key_is_reported():
    seen = SeenCache(clock=Clock())
    assert not seen.seen_before("event:1", "msg:a")
    assert seen.seen_before("event:1")
    assert seen.seen_before("event:2", "msg:a")  # same message, new event id
    assert not seen.seen_before(None, "")  # nothing to remember, nothing seen


def test_keys_expire_after_ttl():
    clock = Clock()
    seen = SeenCache(ttl=10, clock=clock)
    seen.seen_before("k")
    clock.now = 9.9
    assert seen.seen_before("other") is False and seen.seen_before("k") is True
    clock.now = 30
    assert len(seen) == 0
    assert not seen.seen_before("k")


def test_size_is_bounded_oldest_first():
    seen = SeenCache(max_items=100, clock=Clock())
    for i in range(1000):
        seen.seen_before(f"k{i}")
    assert len(seen) == 100
    assert seen.seen_before("k999") and not seen.seen_before("k0")


def test_concurrent_first_sightings_pass_exactly_once():
    seen = SeenCache()
    firsts = all_at_once(lambda _: not seen.seen_before("event:same"), range(16))
    assert firsts.count(True) == 1


def test_shared_dedupe_uses_the_store_and_survives_its_absence(tmp_path, caplog):
    from bot.slack.dedupe import SharedSeen
    from bot.store import open_store

    store = open_store(tmp_path / "d.db")
    one, other = SharedSeen(store), SharedSeen(store)  # two workers on one database
    assert one.seen_before("event:E1") is False
    assert other.seen_before("event:E1") is True  # the retry reached the other worker
    store.close()  # the database goes away
    assert other.seen_before("event:E2") is False and one.seen_before("event:E3") is False
    assert other.seen_before("event:E2") is True  # still deduped locally
    assert "deduping locally only" in caplog.text
