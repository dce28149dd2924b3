"""The help message, built from the registered handlers' own descriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.mrkdwn import escape
from bot.slack.views.blocks import Builder, Message, fallback, section


@dataclass(frozen=True)
class HelpEntry:
    """One line of help: how to use a feature, what it does, and an example."""

    usage: str
    summary: str
    example: str | None = None


def help_view(entries: Sequence[HelpEntry], *, intro: str | None = None) -> Message:
    """One section per entry, under an introduction."""
    b = Builder(reserve_blocks=1, reserve_chars=200)
    b.add(section(intro or "I search the newsroom archive and forgive typos. Here is what I do:"))
    for entry in entries:
        line = f"`{escape(entry.usage)}`  {escape(entry.summary)}"
        if entry.example:
            line += f"\n_e.g._ `{escape(entry.example)}`"
        b.add(section(line))
    usages = ", ".join(e.usage for e in entries)
    return Message(fallback(f"How to use me: {usages}"), b.blocks)
