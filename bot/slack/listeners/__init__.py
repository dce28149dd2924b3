"""Listeners by kind (commands, messages and mentions, actions), each with ``register(app, ...)``.

Help is built from the handlers themselves: each module adds a ``HelpEntry`` per handler (its
usage, the first line of its docstring, an example) to one registry, and the help view renders
that registry, so help cannot drift from what the bot does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.archive import Archive
from bot.slack.views.blocks import Message
from bot.slack.views.help import HelpEntry, help_view
from bot.slack.views.search import search_results

MAX_QUERY = 500  # characters searched; longer input is cut (and said so)
PAGE_SIZE = 5


class HelpRegistry:
    def __init__(self) -> None:
        self.entries: list[HelpEntry] = []

    def add(self, usage: str, handler: Callable[..., Any], example: str | None = None) -> None:
        doc = inspect.getdoc(handler) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else usage
        self.entries.append(HelpEntry(usage, summary, example))

    def view(self, intro: str | None = None) -> Message:
        return help_view(self.entries, intro=intro)


def search_message(
    archive: Archive,
    query: str,
    *,
    offset: int = 0,
    shareable: bool = True,
    sort: str = "relevance",
) -> Message:
    """Search the archive and render the answer (the one place listeners call search)."""
    query = query[:MAX_QUERY]
    result = archive.search(query, limit=PAGE_SIZE, offset=offset, sort=sort)
    totals = archive.passage_counts([h.article.id for h in result.hits])
    return search_results(result, totals=totals, shareable=shareable, query=query, sort=sort)


def register(app: App, archive: Archive) -> HelpRegistry:
    """Register every listener on ``app``; returns the help registry they share."""
    from bot.slack.listeners import actions, commands, fallback, follows, messages, surfaces

    registry = HelpRegistry()
    commands.register(app, archive, registry)
    messages.register(app, archive, registry)
    actions.register(app, archive)
    follows.register(app, archive)
    surfaces.register(app, archive)
    fallback.register(app)  # last: it matches what no listener above did
    return registry
