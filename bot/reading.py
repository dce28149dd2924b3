"""Reading article files for an ingest: each file read once, parsed, hashed and tokenized for the
index, in worker processes when there are many.

A big ingest (a first start on an archive, a folder of 60,000 files) spends most of its time
here, in Python, while tantivy indexes in its own thread. Worker processes do this part beside
the main process, which writes the store and hands the documents to the index; a few files are
read in-process (starting workers costs more than it saves).

Workers start through multiprocessing's fork server, which imports the main module again in
each: a script that ingests needs the usual ``if __name__ == "__main__":`` guard (the
``newsbot`` command has it). Without it the workers fail to start and the files are read
in-process after all, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from itertools import islice

from bot.articles import ArticleError, parse_bytes, read_article_bytes
from bot.models import Article
from bot.text import index_text

log = logging.getLogger("newsbot.reading")

POOL_FROM = 1_000  # files to read before worker processes are worth starting
_CHUNK = 64  # files a worker reads per task (fewer round trips)
_IN_FLIGHT = 8  # tasks queued per worker: the main process never holds much more than that


@dataclass(frozen=True, slots=True)
class ReadFile:
    """One file's reading: its article and SHA-1, or why it cannot be used (``error``)."""

    article: Article | None = None
    digest: str = ""
    error: str = ""
    unreadable: bool = False  # the error is the file's reading, not its content
    # The paragraphs' texts as the index reads them (``bot.text.index_text``), in order.
    index_texts: tuple[str, ...] = ()
    # The words of the index texts of its chunk of files, whitespace-separated, on the first
    # file of each chunk: the vocabulary learns a word once a chunk, not once a passage.
    words: str = ""


def read_file(path: str, display: str) -> ReadFile:
    """Read, parse, hash and tokenize one article file."""
    try:
        data = read_article_bytes(path)  # read once: parsed and hashed
        article = parse_bytes(data, display)
        digest = hashlib.sha1(data).hexdigest()
    except ArticleError as exc:
        return ReadFile(error=str(exc))
    except OSError as exc:
        return ReadFile(error=f"cannot read: {exc.strerror or exc}", unreadable=True)
    return ReadFile(article, digest, index_texts=tuple(map(index_text, article.paragraphs)))


def _read_files(files: Sequence[tuple[str, str]]) -> list[ReadFile]:
    """``read_file`` of each file; the first carries the words of them all, gathered in one
    small set. The main process keeps the ingest's words (``PassageIndex.learn``): a worker
    that also kept them spent a fifth of its time on lookups in that big set, and the worker
    is the slower side of a big ingest."""
    found = [read_file(path, display) for path, display in files]
    words: set[str] = set()
    learn = words.update
    for f in found:
        for text in f.index_texts:
            learn(text.split())
    if words and found:
        found[0] = replace(found[0], words=" ".join(words))
    return found


def workers_for(files: int) -> int:
    """Worker processes for an ingest reading this many files (0: read in-process): a core is
    left to the main process, whose Python thread and tantivy's indexing thread are both busy
    (on 2 cores, 1 worker built 1M passages as fast as 2, with 15 s less CPU and 50 MB less)."""
    if files < POOL_FROM:
        return 0
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def read_files(files: Iterable[tuple[str, str]], workers: int) -> Iterator[ReadFile]:
    """``read_file`` of each (path, display path), in order: in ``workers`` processes, or
    in-process with none (or when the workers cannot start or die: said once in the log)."""
    chunks = _chunks(files, _CHUNK)
    pool = _pool(workers) if workers > 0 else None
    if pool is None:
        for chunk in chunks:
            yield from _read_files(chunk)
        return
    pending: deque[tuple[Future[list[ReadFile]] | None, list[tuple[str, str]]]] = deque()
    died = False

    def oldest() -> list[ReadFile]:
        nonlocal died
        future, chunk = pending.popleft()
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool:  # killed, out of memory: its files are read here
                if not died:
                    log.warning("a reading worker process died; reading in this process")
                died = True
        return _read_files(chunk)

    try:
        for chunk in chunks:
            try:
                pending.append((None if died else pool.submit(_read_files, chunk), chunk))
            except BrokenProcessPool:
                died = True
                pending.append((None, chunk))
            if len(pending) >= _IN_FLIGHT * workers:
                yield from oldest()
        while pending:
            yield from oldest()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _pool(workers: int) -> ProcessPoolExecutor | None:
    """``workers`` reading processes, or None (said in the log) when they cannot start."""
    try:
        # forkserver: a forked child of this process (threads running: tantivy's, a server's)
        # could inherit a lock held at the fork and hang.
        context = multiprocessing.get_context("forkserver")
        pool = ProcessPoolExecutor(workers, mp_context=context)
    except (OSError, ValueError) as exc:
        log.warning("reading in this process: cannot start worker processes (%s)", exc)
        return None
    log.info("reading files in %d worker processes", workers)
    return pool


def _chunks(files: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    it = iter(files)
    while chunk := list(islice(it, size)):
        yield chunk
