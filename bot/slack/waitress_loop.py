"""Running a waitress server until told to stop, from the thread that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def serve_until(server: Any, done: Callable[[], bool]) -> None:
    """Serve one loop turn at a time until ``done()``, then close every connection.

    waitress is not thread-safe to close from outside its loop, so the loop itself checks
    ``done`` between turns (at most 0.2 s apart) and shuts down, letting running tasks finish.
    """
    while not done():
        server.asyncore.loop(timeout=0.2, map=server._map, count=1)
    server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
    for channel in list(server._map.values()):
        channel.close()
