"""Logging: one line per event with time, level, component and request/job id; no secrets.

Adapters set the id of what they are handling with ``log_context("req", envelope_id)``; every
line logged inside (from any module) carries it. Tokens are masked in every line whatever logged it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_context: contextvars.ContextVar[str] = contextvars.ContextVar("newsbot_log_context", default="-")
# Slack tokens (xoxb-, xoxp-, xapp-, ...) and anything that looks like a signing secret assignment.
_SECRET = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+|(?i:(secret|token)=)[^\s&]+")
# A password in a database URL (postgresql://user:PASSWORD@host/db) or a libpq string.
_DB_PASSWORD = re.compile(r"(?i)(\w+://[^:/@\s]*:)[^@\s]+(@)|(password=)\S+")


def redact(text: str) -> str:
    text = _SECRET.sub(lambda m: f"{m[1]}-***" if m[1] else f"{m[2]}=***", text)
    return _DB_PASSWORD.sub(lambda m: f"{m[1]}***{m[2]}" if m[1] else f"{m[3]}***", text)


@contextmanager
def log_context(kind: str, ident: str) -> Iterator[None]:
    """Tag every log line inside the block with ``kind=ident`` (e.g. req=Ev123, job=digest)."""
    token = _context.set(f"{kind}={ident}")
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(kind: str, ident: str) -> None:
    """Tag this thread's log lines from now on (until the next call): for request dispatchers
    whose middleware cannot wrap the work (Bolt runs listeners after its middleware returns)."""
    _context.set(f"{kind}={ident}")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = _context.get()
        record.component = record.name.removeprefix("newsbot.")
        return True


class RedactingFilter(logging.Filter):
    """Masks tokens in a record's message, for handlers this module did not set up."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(level: str = "WARNING", stream: TextIO = sys.stderr) -> None:
    """Quiet by default (WARNING); third-party libraries stay at WARNING unless DEBUG."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(
        _RedactingFormatter(
            "%(asctime)s %(levelname)s %(component)s [%(ctx)s] %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = getattr(logging, level.upper(), logging.WARNING)
    root.setLevel(numeric if numeric == logging.DEBUG else logging.WARNING)
    logging.getLogger("newsbot").setLevel(numeric)
