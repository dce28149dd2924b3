"""App Home and the "Find in archive" message shortcut, through Bolt and the fake Slack."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fakeslack import APP_ID, TEAM_ID, iter_blocks_text

from bot.keyterms import key_terms

USER = "U0REPORTER"


def _home_event(user: str = USER, tab: str = "home") -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0HOME",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def test_app_home_is_published_with_the_archive_and_digest(slack: Any) -> None:
    slack.send_event(_home_event())
    call = slack.fake.wait_for_call("views.publish")[0]
    assert call.params["user_id"] == USER
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    text = "\n".join(iter_blocks_text(view["blocks"]))
    assert "*2* articles" in text  # the two bundled seeds
    assert "Newest articles" in text
    assert "How to search" in text and "/news KEYWORDS" in text


def test_the_messages_tab_publishes_nothing(slack: Any) -> None:
    slack.send_event(_home_event(tab="messages"))
    time.sleep(0.5)
    assert slack.fake.calls_to("views.publish") == []


def _shortcut(slack: Any, text: Any) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "find_in_archive",
        "trigger_id": f"trig.{uuid.uuid4().hex}",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "api_app_id": APP_ID,
        "user": {"id": USER, "name": "reporter", "team_id": TEAM_ID},
        "channel": {"id": "C0NEWSROOM", "name": "newsroom"},
        "message": {"type": "message", "user": "U0EDITOR", "ts": "1700000000.000100", "text": text},
        "message_ts": "1700000000.000100",
        "response_url": slack.fake.response_url(),
        "token": "legacy-verification-token",
    }


def test_find_in_archive_answers_with_passages_for_the_message(slack: Any) -> None:
    payload = _shortcut(slack, "Does anyone have background on the Wagner mercenaries in Mali?")
    slack.deliver("interactive", payload)
    posted = slack.fake.wait_for_posted(payload["response_url"])[0]
    assert posted.body.get("response_type") == "ephemeral"
    text = "\n".join(iter_blocks_text(posted.blocks))
    assert "*Wagner*" in text or "*mercenaries*" in text


def test_find_in_archive_on_a_message_without_words(slack: Any) -> None:
    payload = _shortcut(slack, ":+1: <@U0EDITOR>")
    slack.deliver("interactive", payload)
    posted = slack.fake.wait_for_posted(payload["response_url"])[0]
    assert "no words to search for" in posted.text


def test_key_terms_prefer_names_and_numbers_over_filler() -> None:
    terms = key_terms("Has anyone got background on the Wagner mercenaries in Mali? Thanks!")
    assert {"Wagner", "mercenaries", "Mali"} <= set(terms)
    terms = key_terms(
        "Thanks everyone. Reporting tonight: Wagner mercenaries left Bamako, officials in Mali say"
    )
    assert "Thanks" not in terms  # capitalised only as a sentence start: no name
    assert {"Wagner", "Bamako", "Mali"} <= set(terms)
    terms = key_terms("the ferry that capsized off Port Avel: 14 dead, says the coastguard")
    assert {"Port", "Avel", "14"} <= set(terms)
    terms = key_terms("Budget gap of £42bn and 4.2% inflation, 60% turnout, a bad day")
    assert {"£42bn", "4.2%", "60%"} <= set(terms) and "day" not in terms
    assert key_terms("The the THE the") == []
