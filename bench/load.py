"""A small closed-loop HTTP/1.1 load generator for the benchmarks (asyncio, keep-alive).

`run_load(host, port, bodies, concurrency)` opens `concurrency` keep-alive connections and
POSTs every body of `bodies` exactly once (each connection takes the next body as soon as its
previous answer is read). It returns per-request latencies (seconds, send → whole answer read),
status counts and the wall time. Requests are pre-encoded, and the client is one asyncio loop
on raw streams, so it costs the (shared, 2-core) machine far less CPU than the servers it drives.
Bounded: a whole run is cut at `timeout_s`, a single answer at `request_timeout_s`.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    wall_s: float = 0.0
    reconnects: int = 0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s > 0 else 0.0


def encode_post(host: str, port: int, path: str, body: bytes,
                headers: Optional[dict[str, str]] = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, server wants the connection closed)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed by server")
    status = int(status_line.split(b" ", 2)[1])
    length, close, chunked = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:  # not expected from our apps, but stay correct
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _client(host: str, port: int, queue: list[bytes], res: LoadResult,
                  request_timeout_s: float) -> None:
    reader: Optional[asyncio.StreamReader] = None
    writer: Optional[asyncio.StreamWriter] = None
    try:
        while queue:
            req = queue.pop()
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
                res.reconnects += 1
            t0 = time.perf_counter()
            try:
                writer.write(req)
                status, close = await asyncio.wait_for(_read_response(reader), request_timeout_s)
            except (OSError, ConnectionError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                res.errors[type(exc).__name__] += 1
                writer.close()
                reader = writer = None
                continue
            res.latencies.append(time.perf_counter() - t0)
            res.statuses[status] += 1
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(host: str, port: int, requests: list[bytes], concurrency: int,
               timeout_s: float, request_timeout_s: float) -> LoadResult:
    res = LoadResult()
    queue = list(reversed(requests))  # pop() from the end keeps the given order
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(_client(host, port, queue, res, request_timeout_s))
             for _ in range(concurrency)]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for t in pending:
        t.cancel()
    res.wall_s = time.perf_counter() - t0
    if pending:
        res.errors["run_timeout"] += len(queue) + len(pending)
    return res


def run_load(host: str, port: int, path: str, bodies: Iterable[bytes], concurrency: int,
             timeout_s: float = 120.0, request_timeout_s: float = 10.0,
             headers: Optional[dict[str, str]] = None) -> LoadResult:
    requests = [encode_post(host, port, path, b, headers) for b in bodies]
    return asyncio.run(_run(host, port, requests, concurrency, timeout_s, request_timeout_s))


def write_doc_section(heading: str, body: str, path: Optional[str] = None) -> None:
    """Replace (or append) the section `heading` of docs/benchmarks.md; other sections stay."""
    import re
    from pathlib import Path

    doc = Path(path) if path else Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
    section = f"{heading}\n\n{body.strip()}\n"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")


def table_main(doc: Optional[str], run: Callable[[], str],
               write_section: Callable[[str], None]) -> None:
    """The command line of a bench that prints one table: `--write` puts it in the docs."""
    import argparse

    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    table = run()
    print(table)
    if args.write:
        write_section(table)
