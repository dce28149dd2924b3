"""The bot's buttons: their action ids and the JSON values they carry.

The listeners (``bot.slack.listeners.actions``) read these values back from clicks, which anyone
can forge, so they validate every field again (``bot.slack.payload``); ``parse_value`` only
decodes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.models import Hit
from bot.slack.views.blocks import BUTTON_VALUE

ACTION_SHARE = "share_hit"
ACTION_MORE = "more_results"
ACTION_DIGEST_PASSAGES = "digest_passages"
ACTION_DIGEST_ALL = "digest_all"
ACTION_RELATED = "related_hit"
ACTION_SORT = "sort_results"
SORTS = ("relevance", "newest")
MAX_QUERY_SHOWN = 200
MAX_BUTTON_QUERY = 900  # characters of the query a More results / sort button carries


def share_value(hit: Hit, query: str) -> str:
    """Share to channel: the passage, its highlighted spans and the query."""
    spans = [list(s) for s in hit.spans[:40]]
    query = query[:MAX_QUERY_SHOWN]
    while True:
        value = json.dumps({"p": hit.passage_id, "s": spans, "q": query}, ensure_ascii=False)
        if len(value) <= BUTTON_VALUE:
            return value
        spans, query = spans[: len(spans) // 2], query[: len(query) // 2]


def more_value(query: str, offset: int, sort: str = "relevance") -> str:
    """More results and the sort buttons: the query, where the next page starts, the order."""
    query = query[:MAX_BUTTON_QUERY]  # Slack queries are shorter (listeners.MAX_QUERY)
    while True:
        data: dict[str, Any] = {"q": query, "o": offset}
        if sort != "relevance":
            data["s"] = sort
        value = json.dumps(data, ensure_ascii=False)
        if len(value) <= BUTTON_VALUE:
            return value
        query = query[: len(query) * 3 // 4]


def related_value(hit: Hit) -> str:
    return json.dumps({"p": hit.passage_id})


def digest_all_value(digest: Any, shown: int) -> str:
    """The "See all" button's value: the digest's window and date, and how many were shown."""
    return json.dumps(
        {
            "d": digest.date.isoformat(),
            "f": int(digest.since.timestamp()),
            "u": math.ceil(digest.until.timestamp()),
            "n": shown,
        }
    )


def parse_value(value: str | None) -> dict[str, Any]:
    """A button value written by this module; {} when it is not one."""
    try:
        data = json.loads(value if isinstance(value, str) else "")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
