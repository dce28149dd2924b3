"""What no other listener handles: buttons the bot no longer has, and events it does not use.

Registered last, so each matches only what every listener before it passed over.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.slack.payload import InvalidButton

log = logging.getLogger("newsbot.slack.fallback")

ANY = re.compile(r".*", re.DOTALL)


def register(app: App) -> None:
    @app.action(ANY)
    def on_unknown_button(ack: Ack, action: dict[str, Any]) -> None:
        """Tells the user the button expired (through the app's error handler)."""
        ack()
        raise InvalidButton(f"no button has the action id {str(action.get('action_id'))[:80]!r}")

    @app.event(ANY)
    def on_other_event(event: dict[str, Any]) -> None:
        log.debug("ignoring a %.40r event", event.get("type"))
