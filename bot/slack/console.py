"""``newsbot console``: talk to the real Bolt app without a Slack workspace.

Each line you type becomes the request Slack would send (a signed slash command, a DM or
mention event, a button click) and goes through ``App.dispatch`` with request verification on,
exactly as the HTTP adapter does. The bot's answers (Web API calls and response_url posts) land
on a small stand-in Slack on loopback and are printed readably.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import queue
import re
import secrets
import shutil
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode

from slack_bolt import App, BoltRequest

from bot.archive import Archive
from bot.logs import log_context
from bot.settings import Settings
from bot.slack.app import build_app
from bot.slack.mrkdwn import unescape

USER, CHANNEL, DM_CHANNEL, TEAM = "U0CONSOLE", "C0CONSOLE", "D0CONSOLE", "T0CONSOLE"
BOT_USER, BOT_ID = "U0NEWSBOT", "B0NEWSBOT"

HELP = """Type:
  /news KEYWORDS     the slash command (also /news help, /news sources, /news digest)
  @newsbot KEYWORDS  a mention in a channel (answered in a thread)
  KEYWORDS           a direct message to the bot
  :more              click "More results" on the last answer
  :share N           click "Share to channel" on result N of the last answer
  :passages N        click "See passages" on story N of the last digest
  :all               click "See all N stories" on the last digest
  :help  :quit"""


@dataclass
class Output:
    """Something the bot sent: where, and the message."""

    where: str
    body: dict[str, Any]
    buttons: list[dict[str, Any]] = field(default_factory=list)


class LocalSlack:
    """The few Web API methods the bot calls, plus response_url endpoints, on 127.0.0.1."""

    def __init__(self) -> None:
        self.outputs: queue.Queue[Output] = queue.Queue()
        self._ts = itertools.count(1)
        local = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = dict(parse_qsl(raw.decode("utf-8")))
                body = local.answer(self.path, params)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LocalSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if path.startswith("/response/"):
            self.outputs.put(Output("response_url", params))
            return {"ok": True}
        method = path.rsplit("/", 1)[-1]
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            self.outputs.put(Output(method, params))
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        return {"ok": True}


class Console:
    """Drives a Bolt app with signed requests and renders what it answers."""

    def __init__(self, settings: Settings, archive: Archive, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.color = out.isatty() and not os.environ.get("NO_COLOR")
        self.width = min(100, shutil.get_terminal_size((100, 20)).columns)
        self.local = LocalSlack().start()
        self.secret = secrets.token_hex(16)
        local_settings = settings.with_overrides(
            bot_token="xoxb-console-local",
            slack_api_url=self.local.base + "/api/",
            signing_secret=self.secret,
        )
        self.app: App = build_app(local_settings, archive)
        self.last_buttons: list[dict[str, Any]] = []
        self._ts = itertools.count(1)

    def close(self) -> None:
        self.local.stop()

    # -- requests Slack would send -------------------------------------------------------------
    def _dispatch(self, body: str, content_type: str) -> int:
        ts = str(int(time.time()))
        base = f"v0:{ts}:{body}".encode()
        sig = "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {
            "content-type": content_type,
            "x-slack-request-timestamp": ts,
            "x-slack-signature": sig,
        }
        with log_context("req", "console"):  # the request's id is set inside, and reset after
            return self.app.dispatch(BoltRequest(body=body, headers=headers)).status

    def _response_url(self) -> str:
        return f"{self.local.base}/response/{uuid.uuid4().hex}"

    def command(self, text: str) -> int:
        name, _, rest = text.partition(" ")
        payload = {
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": USER,
            "command": name,
            "text": rest.strip(),
            "response_url": self._response_url(),
            "trigger_id": uuid.uuid4().hex,
        }
        return self._dispatch(urlencode(payload), "application/x-www-form-urlencoded")

    def event(self, text: str, *, mention: bool) -> int:
        ts = f"{1_800_000_000 + next(self._ts)}.000100"
        event: dict[str, Any] = {
            "type": "app_mention" if mention else "message",
            "user": USER,
            "text": f"<@{BOT_USER}> {text}" if mention else text,
            "ts": ts,
            "channel": CHANNEL if mention else DM_CHANNEL,
            "client_msg_id": str(uuid.uuid4()),
        }
        if not mention:
            event["channel_type"] = "im"
        body = {
            "type": "event_callback",
            "team_id": TEAM,
            "event": event,
            "event_id": f"Ev{uuid.uuid4().hex[:12]}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
        return self._dispatch(json.dumps(body), "application/json")

    def click(self, button: dict[str, Any]) -> int:
        payload = {
            "type": "block_actions",
            "user": {"id": USER},
            "team": {"id": TEAM},
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
            "response_url": self._response_url(),
            "trigger_id": uuid.uuid4().hex,
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "value": button.get("value", ""),
                    "block_id": "b",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self._dispatch(body, "application/x-www-form-urlencoded")

    # -- answers -------------------------------------------------------------------------------
    def collect(self, timeout: float = 15.0, settle: float = 0.15) -> list[Output]:
        """The bot's answers: wait for the first, then for any that follow closely."""
        got: list[Output] = []
        try:
            got.append(self.local.outputs.get(timeout=timeout))
            while True:
                got.append(self.local.outputs.get(timeout=settle))
        except queue.Empty:
            pass
        return got

    def handle(self, line: str) -> bool:
        """Run one input line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit", "exit", "quit"):
            return False
        if line in (":help", ":h"):
            self.print(HELP)
            return True
        if line.startswith(":"):
            button = self._pick_button(line)
            if button is None:
                return True
            status = self.click(button)
        elif line.startswith("/"):
            status = self.command(line)
        elif line.startswith("@"):
            status = self.event(line.partition(" ")[2], mention=True)
        else:
            status = self.event(line, mention=False)
        if status != 200:
            self.print(f"(Slack would have seen HTTP {status})")
            return True
        outputs = self.collect()
        if not outputs:
            self.print("(no answer)")
        for output in outputs:
            self.render(output)
        return True

    def _pick_button(self, line: str) -> dict[str, Any] | None:
        word, _, arg = line[1:].partition(" ")
        wanted = {
            "more": "more_results",
            "share": "share_hit",
            "passages": "digest_passages",
            "all": "digest_all",
        }.get(word)
        buttons = [b for b in self.last_buttons if wanted and b["action_id"].startswith(wanted)]
        if word in ("share", "passages"):
            index = int(arg) - 1 if arg.strip().isdigit() else 0
            buttons = buttons[index : index + 1] if index >= 0 else []
        if wanted is None:
            self.print(f"(unknown command :{word}; type :help)")
            return None
        if not buttons:
            self.print(f"(the last answer has no {word} button)")
            return None
        return buttons[0]

    # -- rendering -----------------------------------------------------------------------------
    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def mrkdwn(self, text: str) -> str:
        """Slack mrkdwn to terminal text: links, mentions and bold, then unescaped."""
        text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
        text = re.sub(r"<@([A-Z0-9]+)>", r"@\1", text)
        if self.color:
            text = re.sub(r"\*([^*\n]+)\*", lambda m: self.style(m.group(1), "1"), text)
        return unescape(text)

    def render(self, output: Output) -> None:
        body = output.body
        where = {
            "response_url": "only visible to you"
            if body.get("response_type", "ephemeral") == "ephemeral"
            else "in the channel",
            "chat.postMessage": f"posted in {body.get('channel')}"
            + (" (in a thread)" if body.get("thread_ts") else ""),
        }.get(output.where, output.where)
        if body.get("replace_original"):
            where += ", replacing the previous answer"
        self.print(self.style(f"── newsbot ({where})", "2"))
        blocks = body.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not blocks:
            self.print(self.mrkdwn(str(body.get("text", ""))))
        buttons: list[dict[str, Any]] = []
        for block in blocks:
            self._render_block(block, buttons)
        if buttons:
            self.last_buttons = buttons
        self.print()

    def _render_block(self, block: dict[str, Any], buttons: list[dict[str, Any]]) -> None:
        kind = block.get("type")
        wrap = textwrap.TextWrapper(width=self.width, replace_whitespace=False)
        if kind == "section":
            for para in self.mrkdwn(block["text"]["text"]).split("\n"):
                self.print(wrap.fill(para) if para else "")
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                buttons.append(accessory)
                hint = ""
                for prefix, word in (("share_hit", "share"), ("digest_passages", "passages")):
                    if accessory["action_id"].startswith(prefix):
                        n = sum(1 for b in buttons if b["action_id"].startswith(prefix))
                        hint = f":{word} {n}"
                self.print(self.style(f"  [{accessory['text']['text']}]  {hint}", "36"))
        elif kind == "context":
            line = "  ".join(self.mrkdwn(e.get("text", "")) for e in block.get("elements", []))
            self.print(self.style(wrap.fill(line), "2"))
        elif kind == "header":
            self.print(self.style(block["text"]["text"], "1"))
        elif kind == "divider":
            self.print(self.style("─" * min(40, self.width), "2"))
        elif kind == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    buttons.append(element)
                    hint = {"more_results": ":more", "digest_all": ":all"}.get(
                        element["action_id"], ""
                    )
                    self.print(self.style(f"[{element['text']['text']}]  {hint}", "36"))


def run_console(
    settings: Settings, archive: Archive, *, stdin: TextIO | None = None, out: TextIO | None = None
) -> int:
    """The interactive console; reads lines until EOF or :quit. Returns the exit code."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    console = Console(settings, archive, out)
    interactive = stdin.isatty()
    try:
        console.print("newsbot console: the real Slack app, answering here. :help for help.")
        while True:
            if interactive:
                out.write("you> ")
                out.flush()
            line = stdin.readline()
            if not line:
                break
            if not interactive and line.strip():
                console.print(f"you> {line.strip()}")
            if not console.handle(line):
                break
    except KeyboardInterrupt:
        console.print()
    finally:
        console.close()
    return 0
