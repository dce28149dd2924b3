"""Concurrent HTTP senders in a process of their own, for the load checks.

Threads in the measuring process queue for its interpreter lock, and so do the fake Slack's
threads that receive the answers: with 20 sender threads (urllib, about 0.3 ms of CPU a request)
a loopback server that answers at once measured p50 5 ms and p99 10-26 ms on this 2-core machine,
time spent in the senders, not in the server. One asyncio loop in a process of its own, one
connection a request (as Slack opens them), keeps the senders' share small.

    python -m benchmarks.http_senders < requests.json > results.json

Input: ``{"requests": [{"method", "url", "body", "headers"}], "concurrency": N, "kill_pid":
PID or null, "kill_at": K}``: N senders each take the next request as soon as their last one is
answered; with ``kill_pid``, that process gets SIGKILL just before request K is sent. Output, one
entry a request in order: ``{"sent_at": time.monotonic() (comparable across processes on
Linux), "ms": response time or null when it failed, "status": HTTP status or null}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 10.0


async def _send(method: str, url: str, body: bytes, headers: dict[str, str]) -> int:
    """One request on a new connection; the HTTP status."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        return status
    finally:
        writer.close()


async def run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    requests = spec["requests"]
    kill_pid, kill_at = spec.get("kill_pid"), spec.get("kill_at", -1)
    results: list[dict[str, Any]] = [{} for _ in requests]
    taken = iter(range(len(requests)))

    async def sender() -> None:
        for i in taken:
            if kill_pid and i == kill_at:
                os.kill(kill_pid, signal.SIGKILL)  # no goodbye
            req = requests[i]
            sent_at, started = time.monotonic(), time.perf_counter()
            try:
                status = await asyncio.wait_for(
                    _send(req["method"], req["url"], req["body"].encode(), req["headers"]),
                    TIMEOUT,
                )
            except (TimeoutError, OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                results[i] = {"sent_at": sent_at, "ms": None, "status": None}
                continue
            took = (time.perf_counter() - started) * 1000
            results[i] = {"sent_at": sent_at, "ms": took, "status": status}

    await asyncio.gather(*(sender() for _ in range(max(1, spec["concurrency"]))))
    return results


def main() -> int:
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(run(spec)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
