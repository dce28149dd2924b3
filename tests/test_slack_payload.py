"""Reading payload values without trusting them (bot/slack/payload.py)."""

from __future__ import annotations

import pytest

from bot.slack import payload
from bot.slack.payload import InvalidButton


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5),
        ("5", 5),
        (0, 0),
        (1000, 1000),
        (1001, None),
        (2**31, None),
        (-1, None),
        (True, None),
        (5.0, None),
        (float("nan"), None),
        ("5.0", None),
        ("1e9", None),
        ("9" * 40, None),
        (None, None),
        ([5], None),
    ],
)
def test_bounded_int(value, expected):
    assert payload.bounded_int(value, 0, 1000) == expected


@pytest.mark.parametrize(
    "raw",
    [None, 5, "", "not json", "[1]", '"s"', '{"o": NaN}', "[" * 3000 + "]" * 3000, "{}" * 3000],
)
def test_button_values_that_are_not_objects_of_ours_are_invalid(raw):
    with pytest.raises(InvalidButton):
        payload.button_value({"value": raw})


def test_spans_and_ids_keep_only_valid_items():
    assert payload.spans([[0, 5], [5, 3], [2, 99], ["a", 1], [1], "x", [3, 4]], 10) == [
        (0, 5),
        (3, 4),
    ]
    assert payload.int_list({"a": [1, "2", -3, 2**70, None, True]}, "a") == [1, 2]


def test_channel_and_user_accept_only_strings():
    assert payload.channel_of({"channel": {"id": "C1"}}) == "C1"
    assert payload.channel_of({"channel": "C1", "container": {"channel_id": "C2"}}) == "C2"
    assert payload.channel_of({"channel": {"id": 5}, "channel_id": ["C"]}) is None
    assert payload.user_of({"user": {"id": "U1"}}) == "U1"
    assert payload.user_of({"user": "U1", "user_id": "U2"}) == "U2"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"type": "url_verification", "challenge": "c"}, None),
        ({"command": "/news", "text": "x"}, None),
        ([1], "JSON list"),
        ({}, "empty"),
        ({"type": 5}, "'type'"),
        ({"type": "block_actions", "actions": []}, "'actions'"),
        ({"type": "block_actions", "actions": [{"value": "x"}]}, "action_id"),
        ({"type": "event_callback", "event": "x"}, "'event'"),
        ({"authorizations": [1]}, "'authorizations'"),
        ({"team": 5}, "'team'"),
        ({"a": [[[[1]]]]}, None),
    ],
)
def test_problem_with(body, problem):
    found = payload.problem_with(body)
    assert (found is None) if problem is None else (problem in found)


def test_deep_nesting_is_a_problem_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert "deeper" in payload.problem_with({"type": "x", "a": deep})
