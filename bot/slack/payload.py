"""Reading values out of Slack payloads without trusting them.

Every value a request carries may be of the wrong type, out of range or missing, even when the
request is correctly signed. These helpers return a safe value or raise ``InvalidButton``, which
the app's error handler answers with one short ephemeral line; ``problem_with`` says why a whole
body cannot be dispatched at all (the HTTP and Socket Mode guards answer those with a 4xx / an ack).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_OFFSET = 1_000  # search results a "More results" button may page to
MAX_ID = 2**63 - 1  # SQLite's largest integer
MAX_VALUE_CHARS = 4_000  # Slack caps button values at 2000 characters
MAX_DEPTH = 64  # JSON nesting; Slack's own payloads stay well under 20
_DIGITS = re.compile(r"\d{1,19}")


class InvalidButton(ValueError):
    """A button payload this bot did not write (or no longer understands)."""


def bounded_int(value: Any, low: int, high: int) -> int | None:
    """``value`` as an int within ``[low, high]``: an int (not a bool) or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel of a request: ``channel.id``, ``container.channel_id`` or ``channel_id``."""
    return (
        as_str(as_dict(body.get("channel")).get("id"))
        or as_str(as_dict(body.get("container")).get("channel_id"))
        or as_str(body.get("channel_id"))
    )


def user_of(body: dict[str, Any]) -> str | None:
    """The user who sent a request: ``user.id`` (interactions) or ``user_id`` (commands)."""
    return as_str(as_dict(body.get("user")).get("id")) or as_str(body.get("user_id"))


def button_value(action: dict[str, Any]) -> dict[str, Any]:
    """A button's JSON value as a dict; ``InvalidButton`` when it is not one this bot wrote."""
    raw = action.get("value")
    if not isinstance(raw, str) or len(raw) > MAX_VALUE_CHARS:
        raise InvalidButton("the button value is missing or too long")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidButton("the button value is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidButton("the button value is not an object")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def int_field(value: dict[str, Any], key: str, low: int = 0, high: int = MAX_ID) -> int:
    """``value[key]`` as a bounded int; ``InvalidButton`` otherwise."""
    number = bounded_int(value.get(key), low, high)
    if number is None:
        raise InvalidButton(f"{key!r} is not a whole number from {low} to {high}")
    return number


def str_field(value: dict[str, Any], key: str, max_chars: int = 2_000) -> str:
    """``value[key]`` as a string (missing: empty); ``InvalidButton`` for another type."""
    text = value.get(key, "")
    if not isinstance(text, str) or len(text) > max_chars:
        raise InvalidButton(f"{key!r} is not a short string")
    return text


def int_list(value: dict[str, Any], key: str, max_items: int = 50) -> list[int]:
    """The valid ids in the list ``value[key]`` (at most ``max_items``); others are skipped."""
    items = value.get(key)
    if not isinstance(items, list):
        raise InvalidButton(f"{key!r} is not a list")
    ids = (bounded_int(i, 1, MAX_ID) for i in items[:max_items])
    return [i for i in ids if i is not None]


def spans(items: Any, length: int, max_items: int = 40) -> list[tuple[int, int]]:
    """The valid ``[start, end]`` pairs within a text of ``length`` characters; others skipped."""
    found = []
    for item in items[:max_items] if isinstance(items, list) else []:
        if isinstance(item, list) and len(item) == 2:
            start, end = bounded_int(item[0], 0, length), bounded_int(item[1], 0, length)
            if start is not None and end is not None and start < end:
                found.append((start, end))
    return found


def depth_exceeds(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts nest deeper than ``limit`` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def problem_with(body: Any) -> str | None:
    """Why a parsed request body cannot be dispatched, or None when it can.

    Only shapes no Slack request has: the listeners validate the values themselves.
    """
    if not isinstance(body, dict):
        return f"the payload is a JSON {type(body).__name__}, not an object"
    if not body:
        return "the payload is empty"
    if depth_exceeds(body):
        return f"the payload nests deeper than {MAX_DEPTH} levels"
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "'type' is not a string"
    if "command" in body and not isinstance(body["command"], str):
        return "'command' is not a string"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "'actions' is not a non-empty list"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "an action has no 'action_id'"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "'event' is not an object with a 'type'"
    for key in ("authorizations",):
        if key in body and not (
            isinstance(body[key], list) and all(isinstance(a, dict) for a in body[key])
        ):
            return f"{key!r} is not a list of objects"
    for key in ("team", "enterprise", "user", "channel", "container"):
        if key in body and not isinstance(body[key], dict | str | None):
            return f"{key!r} is neither an object nor a string"
    return None


def acked_before_listener(body: dict[str, Any]) -> bool:
    """Slash commands and clicks: acked with an empty body before their listener runs (every
    such listener answers through ``respond()``)."""
    return bool(body.get("command")) or body.get("type") == "block_actions"


def request_id(body: Any) -> str:
    """A short id for a Slack request, for the logs."""
    body = as_dict(body)
    event_id, trigger_id = as_str(body.get("event_id")), as_str(body.get("trigger_id"))
    if event_id:
        return event_id[:40]
    if trigger_id:
        return "trigger-" + trigger_id[-12:]
    return str(as_str(body.get("type")) or as_str(body.get("command")) or "request")[:40]
