"""The bounded TTL memory of handled Slack deliveries."""

from __future__ import annotations

import threading

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
    winners: list[int] = []
    barrier = threading.Barrier(16)

    def race(i: int) -> None:
        barrier.wait()
        if not seen.seen_before("event:same"):
            winners.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
