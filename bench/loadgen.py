"""A small HTTP/1.1 load generator: N keep-alive connections, each sending its
next request as soon as the previous answer has arrived (closed loop).

Plain asyncio sockets, so the client costs little of the machine it shares with
the server; requests are prepared bytes, answers are read by Content-Length.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.support import percentile


@dataclass
class Load:
    """What one run measured: answers per second, latencies in ms, statuses."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    def line(self) -> str:
        wrong = {s: n for s, n in self.statuses.items() if s >= 300}
        return (
            f"{self.rate:8,.0f} req/s, p50 {self.p50:6.1f} ms, p99 {self.p99:6.1f} ms"
            + (f", answers {dict(self.statuses)}" if wrong else "")
        )


def request(
    method: str, path: str, body: bytes = b"", headers: Sequence[str] = ()
) -> bytes:
    """One HTTP/1.1 request as bytes (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", *headers]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> tuple[int, bytes]:
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


async def _connection(
    host: str,
    port: int,
    requests: Sequence[bytes],
    measure_from: float,
    until: float,
    load: Load,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        n = 0
        while (started := time.perf_counter()) < until:
            status, _ = await exchange(reader, writer, requests[n % len(requests)])
            n += 1
            if started >= measure_from:
                load.latencies_ms.append((time.perf_counter() - started) * 1000)
                load.statuses[status] += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, per_connection: Sequence[Sequence[bytes]], warmup: float,
    seconds: float,
) -> Load:  # fmt: skip
    start = time.perf_counter()
    load = Load(seconds)
    await asyncio.gather(
        *(
            _connection(
                host, port, requests, start + warmup, start + warmup + seconds, load
            )
            for requests in per_connection
        )
    )
    return load


def run(
    host: str,
    port: int,
    per_connection: Sequence[Sequence[bytes]],
    *,
    warmup: float = 3,
    seconds: float = 15,
) -> Load:
    """One connection per list of requests, each cycling through its list; counts
    only the answers to requests sent after the warm-up."""
    return asyncio.run(_run(host, port, per_connection, warmup, seconds))


async def _each(host: str, port: int, requests: Sequence[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        answers = []
        for data in requests:
            status, body = await exchange(reader, writer, data)
            if status >= 300:
                raise RuntimeError(f"answer {status}: {body[:300]!r}")
            answers.append(body)
        return answers
    finally:
        writer.close()


def send_all(host: str, port: int, requests: Sequence[bytes]) -> list[bytes]:
    """Send requests one after the other on one connection; their bodies."""
    return asyncio.run(_each(host, port, requests))
