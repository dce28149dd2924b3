"""Desk digests: which channels get the daily digest, and with which stories.

``DIGEST_CHANNEL`` channels get every story; channels subscribed with ``/news digest here
[QUERY]`` (stored in the database) get the stories with an article matching their query. The
query is matched against the window's articles with the follows' percolator (``bot.follows``),
never over the whole archive. Each channel still goes through the delivery ledger, so it gets
one digest a day whichever process, or how many, runs the schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from bot.digest.build import DIGEST_STORIES, Digest, build_digest
from bot.models import DeskChannel
from bot.store import Store

Build = Callable[[datetime, datetime, date], Digest]
Match = Callable[[str, Sequence[int]], set[int]]


def desk_build(
    store: Store, query: str, match: Match, max_stories: int | None = DIGEST_STORIES
) -> Build:
    """``build(since, until, day)`` of a desk: every story, or those matching ``query``."""

    def build(since: datetime, until: datetime, day: date) -> Digest:
        only = None
        if query:
            ids = [a.id for a in store.articles(seen_since=since, seen_until=until)]
            only = match(query, ids)
        return build_digest(store, since, until, day, max_stories=max_stories, only=only)

    return build


def digest_targets(
    configured: Sequence[str], desks: Sequence[DeskChannel], store: Store, match: Match
) -> list[tuple[str, Build]]:
    """(channel, build) for every channel with a digest: DIGEST_CHANNEL ones first (every
    story), then the stored desks (a desk's query wins for a channel that is both)."""
    stored = {d.channel: d.query for d in desks}
    out = [
        (channel, desk_build(store, stored.get(channel, ""), match))
        for channel in dict.fromkeys(configured)
    ]
    seen = set(configured)
    out += [(d.channel, desk_build(store, d.query, match)) for d in desks if d.channel not in seen]
    return out
