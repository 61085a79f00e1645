"""A small HTTP/1.1 load generator: N keep-alive connections for a fixed time.

Stdlib asyncio (uvloop when installed), hand-rolled HTTP/1.1 so that the client
spends as little CPU as possible: on a 2-core machine every cycle the load
generator burns is taken from the server under test. Loopback only, bounded in
time and in count; it stops by itself.

    python bench/loadgen.py --port 8001 --path /healthz --connections 32 --duration 10

prints one JSON object: requests, errors, statuses, requests/s, latency
percentiles (ms) and the CPU seconds this process used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time

LOOPBACK = "127.0.0.1"
READ_TIMEOUT = 10.0


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.error_kinds: dict[str, int] = {}

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server keeps the line."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection" and value == b"close":
            keep_alive = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()  # body until close
        keep_alive = False
    return status, keep_alive


async def connection(
    port: int,
    request: bytes,
    deadline: float,
    budget: list[int],
    stats: Stats,
    reconnect_every: int,
) -> None:
    reader = writer = None
    on_this_line = 0
    clock = time.perf_counter
    while clock() < deadline and budget[0] > 0:
        budget[0] -= 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                on_this_line = 0
            started = clock()
            writer.write(request)
            async with asyncio.timeout(READ_TIMEOUT):
                status, keep_alive = await read_response(reader)
            stats.latencies.append(clock() - started)
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if not 200 <= status < 300:
                stats.error(f"http_{status}")
            on_this_line += 1
            if not keep_alive or on_this_line == reconnect_every:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            stats.error(type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)  # no hot loop against a dead server
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def run(args: argparse.Namespace) -> dict:
    headers = [
        f"GET {args.path} HTTP/1.1",
        f"Host: {LOOPBACK}:{args.port}",
        # What the TLS-terminating proxy sets in production (no HTTPS redirect).
        "X-Forwarded-Proto: https",
        "Accept: application/json",
        *args.header,
    ]
    request = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
    stats = Stats()
    budget = [args.max_requests]
    started = time.perf_counter()
    deadline = started + args.duration
    await asyncio.gather(
        *(
            connection(
                args.port, request, deadline, budget, stats, args.reconnect_every
            )
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(stats.latencies)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ms = 1000.0
    return {
        "path": args.path,
        "connections": args.connections,
        "reconnect_every": args.reconnect_every,
        "duration_s": round(elapsed, 3),
        "requests": len(latencies),
        "errors": stats.errors,
        "error_kinds": stats.error_kinds,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * ms,
        "p90_ms": percentile(latencies, 0.90) * ms,
        "p99_ms": percentile(latencies, 0.99) * ms,
        "max_ms": (latencies[-1] * ms) if latencies else float("nan"),
        "mean_ms": (statistics.fmean(latencies) * ms) if latencies else float("nan"),
        "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=0,
        help="open a new connection after this many requests (0: keep it)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=2_000_000,
        help="hard cap on requests sent, whatever the duration",
    )
    parser.add_argument(
        "--header", action="append", default=[], help="extra 'Name: value' header"
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 300:
        parser.error("--duration must be in (0, 300] seconds")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
