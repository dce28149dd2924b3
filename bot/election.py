"""Exactly one active scheduler among several processes (and hosts).

PostgreSQL: a session advisory lock held on a connection of its own, outside the pool (a pool
recycles connections, which would drop the lock), with TCP keepalives so a vanished host lets go
in about 30 s rather than two hours. Behind PgBouncer it needs session pooling (transaction
pooling drops session locks). SQLite: an exclusive ``flock`` on a file beside the database;
the kernel releases both when the process dies, even by ``kill -9``.

The lock only saves work. The digest ledger stays the guarantee against a second post.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.store import Store, is_url

log = logging.getLogger("newsbot.election")

HEARTBEAT_KEY = "scheduler"
_LOCK_SQL = "hashtextextended('newsbot-scheduler:' || current_schema(), 0)"


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Election(ABC):
    @abstractmethod
    def try_acquire(self) -> bool:
        """True if this process holds the lock now (acquired now or earlier)."""

    @abstractmethod
    def still_held(self) -> bool:
        """False once the lock is lost (its connection died): stop scheduling at once."""

    @abstractmethod
    def release(self) -> None: ...


class PostgresElection(Election):
    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Any = None

    def try_acquire(self) -> bool:
        from bot.store.postgres import connect

        if self._conn is None:
            self._conn = connect(self.url, connect_timeout=5, application_name="newsbot-scheduler")
        try:
            row = self._conn.execute(f"SELECT pg_try_advisory_lock({_LOCK_SQL})").fetchone()
        except Exception:
            self._drop()
            raise
        return bool(row and row[0])

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except Exception:
            self._drop()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def release(self) -> None:
        self._drop()  # closing the session releases its advisory locks


class FileElection(Election):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def election_for(database: str | Path) -> Election:
    if is_url(database):
        return PostgresElection(str(database))
    return FileElection(Path(str(database) + ".scheduler.lock"))


def read_heartbeat(store: Store) -> dict[str, Any] | None:
    raw = store.get_meta(HEARTBEAT_KEY)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class SchedulerSeat:
    """Loops until ``stop``: wins the election, then runs ``start()`` (returning a ``stop``
    callable) while the lock holds; a standby retries every ``poll`` seconds."""

    def __init__(
        self,
        election: Election,
        start: Callable[[], Callable[[], None]],
        store: Callable[[], Store],
        *,
        poll: float = 2.0,
        announce: Callable[[str], None] = lambda line: log.info("%s", line),
    ) -> None:
        self.election = election
        self.start = start
        self.store = store
        self.poll = poll
        self.announce = announce
        self.active = False
        self._stop_jobs: Callable[[], None] | None = None
        self._since: str | None = None

    def run(self, stop: threading.Event) -> None:
        said_standby = said_error = False
        while not stop.is_set():
            try:
                if not self.active:
                    if self.election.try_acquire():
                        self._become_active()
                        said_standby = False
                    elif not said_standby:
                        self.announce("newsbot: standby scheduler: another scheduler is active")
                        said_standby = True
                elif not self.election.still_held():
                    self._step_down("lost the scheduler lock (database connection dropped)")
                else:
                    self._heartbeat()
                said_error = False
            except Exception as exc:
                if self.active and not self.election.still_held():
                    self._step_down(f"lost the scheduler lock ({type(exc).__name__})")
                if not said_error:
                    from bot.logs import redact

                    log.error("scheduler election: %s; retrying", redact(str(exc)))
                    said_error = True
            stop.wait(self.poll)
        if self.active:
            self._step_down(None)
        self.election.release()

    def _become_active(self) -> None:
        self.active = True
        self._since = datetime.now(UTC).isoformat(timespec="seconds")
        self._heartbeat()
        self._stop_jobs = self.start()
        self.announce(f"newsbot: this process ({holder_name()}) is the active scheduler")

    def _step_down(self, why: str | None) -> None:
        self.active = False
        stop_jobs, self._stop_jobs = self._stop_jobs, None
        if stop_jobs is not None:
            stop_jobs()
        if why:
            log.error("scheduler: %s; stopped the jobs, trying to win the lock again", why)
        self.election.release()

    def _heartbeat(self) -> None:
        beat = {
            "holder": holder_name(),
            "since": self._since,
            "heartbeat": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.store().set_meta(HEARTBEAT_KEY, json.dumps(beat))
