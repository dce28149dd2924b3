"""Worker processes for big ingests: reading and parsing files, tokenizing passages.

A big ingest (a first start, a rebuild) spends most of its Python time in work that needs no
shared state: parsing article files and tokenizing passages for the index. That work runs in a
small pool of processes while the main thread writes SQLite and feeds the index writer (whose
own thread indexes). Small ingests (the watcher, a feed, the tests) never start one: they run
the same functions inline, so both paths give the same rows.

Results come back in order, with at most ``ahead`` chunks in flight: a slow consumer never lets
parsed texts pile up in memory.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import TypeVar

from bot.articles import MAX_FILE_BYTES, ArticleError, parse_bytes
from bot.models import Article
from bot.text import index_text

T = TypeVar("T")
R = TypeVar("R")

# Files to read, or passages to index, before a pool is worth its start (about a second).
MIN_FILES = 2_000
MIN_PASSAGES = 30_000
MAX_WORKERS = 2
# (article, sha1 hex digest) or (None, why it could not be read)
Loaded = tuple[Article, str] | tuple[None, str]
# A store row for the index (passage id, article id, body, headline + dek + byline, byline, ts)
# and the same with the texts tokenized (``bot.index.IndexRow``).
StoreRow = tuple[int, int, str, str, str, int]


def load_file(realpath: str, display_path: str) -> Loaded:
    """Read one article file once: its parsed article and the sha1 of its bytes."""
    p = Path(realpath)
    try:
        if not p.is_file():
            return None, "not a regular file"
        size = p.stat().st_size
        if size == 0:
            return None, "empty file"
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 1024
            return None, f"too large ({size // 1024} KiB, the limit is {limit} KiB)"
        data = p.read_bytes()
        return parse_bytes(data, display_path), hashlib.sha1(data).hexdigest()
    except ArticleError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


def load_files(paths: list[tuple[str, str]]) -> list[Loaded]:
    return [load_file(real, shown) for real, shown in paths]


def tokenize_rows(rows: Iterable[StoreRow]) -> Iterator[StoreRow]:
    """Store rows with their texts as the index takes them (``bot.text.index_text``); rows come
    article by article, so an article's headline and byline are tokenized once."""
    last, head, by = -1, "", ""
    for pid, aid, body, title, byline, ts in rows:
        if aid != last:
            last, head, by = aid, index_text(title), index_text(byline)
        yield pid, aid, index_text(body), head, by, ts


def tokenize_chunk(rows: list[StoreRow]) -> list[StoreRow]:
    return list(tokenize_rows(rows))


def worker_count() -> int:
    """Processes for a big ingest: 0 (work inline) on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(MAX_WORKERS, cores or 1) if (cores or 1) > 1 else 0


class Workers:
    """A pool of worker processes (spawned: the parent holds threads and database handles)."""

    def __init__(self, processes: int) -> None:
        self._pool: Pool = multiprocessing.get_context("spawn").Pool(processes)
        self.processes = processes

    def ordered(
        self,
        fn: Callable[[list[T]], list[R]],
        items: Iterable[T],
        *,
        chunk: int,
        ahead: int | None = None,
    ) -> Iterator[R]:
        """``fn`` over ``items`` in chunks, results in order. ``items`` is read in the calling
        thread (a database cursor stays in its thread)."""
        ahead = ahead or 2 * self.processes
        pending: deque[AsyncResult[list[R]]] = deque()
        batch: list[T] = []
        for item in items:
            batch.append(item)
            if len(batch) >= chunk:
                pending.append(self._pool.apply_async(fn, (batch,)))
                batch = []
                if len(pending) > ahead:
                    yield from pending.popleft().get()
        if batch:
            pending.append(self._pool.apply_async(fn, (batch,)))
        while pending:
            yield from pending.popleft().get()

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        self._pool.terminate()
        self._pool.join()
