"""Slack's message limits, the ``Message`` every view returns, and the small block builders.

``Builder`` adds groups of blocks only while the message stays within the limits, keeping room
for a closing tail, so a view can never build a message Slack would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from bot.slack.mrkdwn import cut_mrkdwn, truncate, truncate_escaped

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
CONTEXT_TEXT = 2000
MESSAGE_CHARS = 12_000  # serialized blocks; Slack refuses messages around 13k+
FALLBACK_TEXT = 3000

Block = dict[str, Any]


class Message(NamedTuple):
    """Fallback text and blocks; unpacks as ``text, blocks``."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut_mrkdwn(text, SECTION_TEXT)},
    }
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut_mrkdwn(t, CONTEXT_TEXT)} for t in texts if t][
            :10
        ],
    }


def header(text: str) -> Block:
    """A header from plain text the bot may not have written (plain_text is never parsed)."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT), "emoji": True},
    }


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    if len(value) > BUTTON_VALUE:
        raise ValueError(f"button value is {len(value)} characters, over {BUTTON_VALUE}")
    block: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        block["style"] = style
    return block


def divider() -> Block:
    return {"type": "divider"}


def size(blocks: Sequence[Block]) -> int:
    """Characters of ``blocks`` serialized as Slack receives them."""
    return len(json.dumps(list(blocks), ensure_ascii=False))


def fallback(text: str) -> str:
    """The notification text of a message, within Slack's limit."""
    return truncate_escaped(text, FALLBACK_TEXT)


def fits(blocks: Sequence[Block]) -> bool:
    """True when ``blocks`` is within the message limits (count and total size)."""
    return len(blocks) <= MAX_BLOCKS and size(blocks) <= MESSAGE_CHARS


class Builder:
    """Adds groups of blocks while the message stays within limits, keeping room for a tail."""

    def __init__(self, reserve_blocks: int = 2, reserve_chars: int = 1200) -> None:
        self.blocks: list[Block] = []
        self.reserve_blocks = reserve_blocks
        self.reserve_chars = reserve_chars
        self._chars = 2

    def add(self, *group: Block) -> bool:
        added = sum(size([b]) + 1 for b in group)
        if (
            len(self.blocks) + len(group) > MAX_BLOCKS - self.reserve_blocks
            or self._chars + added > MESSAGE_CHARS - self.reserve_chars
        ):
            return False
        self.blocks.extend(group)
        self._chars += added
        return True

    def tail(self, *group: Block) -> None:
        """Blocks that must end the message (counted in the reserve)."""
        for block in group:
            if len(self.blocks) < MAX_BLOCKS and size([*self.blocks, block]) <= MESSAGE_CHARS:
                self.blocks.append(block)
