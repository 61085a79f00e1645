"""Issue 14's hot paths on the production shape, each beside its baseline, interleaved.

Starts everything itself on loopback: its own redis-server, its own PostgreSQL
database (``coaching_perf_bench``, dropped and made again), and per variant
a stack of granian (2 workers) + one Celery worker sharing that database, each
stack on its own Redis database number:

- ``conn``: a new PostgreSQL connection per request and task (``DB_POOL=0``),
  channels-redis ``core`` layer: the shape before issue 14;
- ``pool``: psycopg's pool (``DB_POOL=1``), ``core`` layer;
- ``pubsub``: a connection per request and ``RedisPubSubChannelLayer`` (live
  push only; compared with ``conn``).

Each round measures, in rotated order, on ``conn`` and ``pool``: the status API
with a Bearer token vs ``/bench/auth`` (same authentication, no work), the
webhook ingest vs ``/bench/webhook`` (verify + one INSERT) with signed events
from wrk, then processing (the Celery worker is stopped while the ingest is
measured, then resumed: its CPU per event over the baseline view's CPU per
request); and live push (webhook POST -> message on every subscribed socket)
with 1,000 and 100 sockets on ``conn`` and ``pubsub``, plus the subscribe's
round trip beside a ping's.

    .venv/bin/python bench/hotpaths.py                  # make bench (~3-4 min)
    .venv/bin/python bench/hotpaths.py --rounds 1 --duration 3 --sockets 200
    .venv/bin/python bench/hotpaths.py --soak 600       # make soak

Writes bench/results/hotpaths-<UTC time>.json, .md and .png (and -latest
copies). Only ratios to a baseline of the same round mean anything on a shared
machine; load averages and the CPU used by other work are recorded beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asgi_servers import (
    cpu_seconds,
    free_port,
    group_pids,
    machine_busy,
    rss_kb,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
LOOP = "127.0.0.1"
SECRET = "whsec_bench_" + secrets.token_hex(8)
PG_ADMIN = os.environ.get(
    "BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres"
)
PG_DB = os.environ.get("BENCH_PG_DB", "coaching_perf_bench")

VARIANTS = {
    "conn": {"DB_POOL": "0", "CHANNEL_LAYER": "core"},
    "pool": {"DB_POOL": "1", "CHANNEL_LAYER": "core"},
    "pubsub": {"DB_POOL": "0", "CHANNEL_LAYER": "pubsub"},
}
WARM_PUSH_EVENTS = 5
TARGETS = {
    "ingest": "ratio >= 0.7",
    "processing": "CPU <= 5x baseline; <= 12 statements",
    "status": "ratio >= 0.8; <= 3 queries",
    "push": "p99 < 100 ms at 1,000 sockets; 0 missed",
    "subscribe": "<= 2 ms server time",
}


def log(*args) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


# --- processes ----------------------------------------------------------------------


class Procs:
    """Child processes, each in its own group, all stopped at exit."""

    def __init__(self) -> None:
        self.groups: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict, logdir: Path):
        out = open(logdir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the child
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.groups[name] = proc
        return proc

    def pids(self, name: str) -> list[int]:
        return group_pids(self.groups[name].pid)

    def signal(self, name: str, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.groups[name].pid, sig)

    def stop_all(self) -> None:
        for name in list(self.groups):
            self.signal(name, signal.SIGCONT)
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.groups.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for name in self.groups:
            self.signal(name, signal.SIGKILL)


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).read()
            return
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def psql(sql: str, url: str = PG_ADMIN) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def base_env(redis_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DB_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=LOOP,
        SECURE_SSL_REDIRECT="0",
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_PUBLISHABLE_KEY="pk_test_bench",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE="http://127.0.0.1:9",  # no Stripe call is expected
        # Sent and dropped: the locmem backend keeps every email in a list,
        # which made the soak measure that list growing, not the worker.
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DATABASE_URL=f"{PG_ADMIN.rsplit('/', 1)[0]}/{PG_DB}",
        REDIS_URL=f"redis://{LOOP}:{redis_port}/0",
        LOG_LEVEL="WARNING",
        JWT_ACCESS_MINUTES="600",
        BENCH_BASELINES="1",
        DB_POOL_MAX_SIZE="20",
    )
    return env


# --- load ---------------------------------------------------------------------------


def sign(body: str) -> str:
    import hashlib
    import hmac

    stamp = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


def succeeded_event(payment: list) -> str:
    _booking, payment_id, intent, amount = payment
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": intent,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_received": amount,
                    "currency": "chf",
                    "status": "succeeded",
                    "metadata": {"payment_id": payment_id, "booking_id": _booking},
                }
            },
        },
        separators=(",", ":"),
    )


def wrk(url: str, args: list[str], *, connections: int, seconds: float, lua_args):
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "hotpaths.lua"),
        url,
        "--",
        *lua_args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    for line in out.stdout.splitlines():
        if line.startswith("JSON:"):
            return json.loads(line[5:])
    raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")


def measured(procs: Procs, stack: str, run) -> dict:
    """Run ``run()``; add the stack's server CPU and the machine's other load."""
    pids = procs.pids(f"{stack}-web")
    cpu0 = sum(cpu_seconds(pids).values())
    busy0 = machine_busy()
    result = run()
    cpu1 = sum(cpu_seconds(procs.pids(f"{stack}-web")).values())
    busy1 = machine_busy()
    wall = max(result["seconds"], 1e-6)
    result["rps"] = result["requests"] / wall
    result["server_cpu_ms"] = 1000 * (cpu1 - cpu0) / max(result["requests"], 1)
    total_cores = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-6)
    result["server_cores"] = (cpu1 - cpu0) / wall
    result["machine_cores_busy"] = total_cores
    result["loadavg"] = os.getloadavg()[0]
    return result


def events_file(path: Path, payments: list, *, baseline: bool) -> Path:
    with path.open("w") as f:
        for p in payments:
            body = succeeded_event(p)
            if baseline:  # same shape, an id of its own, never processed
                body = body.replace('"evt_', '"evt_base', 1)
            f.write(f"{sign(body)}\t{body}\n")
    return path


def processed_count(ids: list[str]) -> int:
    """(processed, still waiting) among the stored events of ``ids``."""
    rows = psql(
        "select count(*) filter (where status = 'processed'), "
        "count(*) filter (where status in ('pending', 'failed')) "
        "from payments_webhookevent where stripe_event_id in ("
        + ",".join(f"'{i}'" for i in ids)
        + ")",
        url=f"{PG_ADMIN.rsplit('/', 1)[0]}/{PG_DB}",
    )
    return rows[0][0], rows[0][1]


# --- live push ----------------------------------------------------------------------


async def post_event(port: int, body: str) -> int:
    reader, writer = await asyncio.open_connection(LOOP, port)
    data = body.encode()
    writer.write(
        (
            f"POST /api/payments/webhook HTTP/1.1\r\nHost: {LOOP}:{port}\r\n"
            f"Content-Type: application/json\r\nStripe-Signature: {sign(body)}\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + data
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def push_round(
    port: int, token: str, payments: list, sockets: int, events: int, rate: float
) -> dict:
    """``sockets`` sockets, spread over ``events`` bookings; one succeeded event
    per booking at ``rate`` per second; latency POST -> message, per socket."""
    from websockets.asyncio.client import connect

    targets = payments[:events]
    arrivals: dict[tuple[int, str], float] = {}
    sent_at: dict[str, float] = {}
    subscribe_ms: list[float] = []
    ping_ms: list[float] = []
    conns = []
    gate = asyncio.Semaphore(20)

    failed = []

    async def open_one(i: int):
        try:
            await _open_one(i)
        except Exception as exc:  # counted and reported, not fatal
            failed.append(repr(exc)[:200])

    async def _open_one(i: int):
        booking = targets[i % len(targets)][0]
        async with gate:
            ws = await connect(
                f"ws://{LOOP}:{port}/ws/payments/",
                additional_headers={"Authorization": f"Bearer {token}"},
                origin=f"http://{LOOP}:{port}",
                open_timeout=30,
                max_queue=None,
            )
            t = time.perf_counter()
            await ws.send('{"type":"ping"}')
            await ws.recv()
            ping_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            await ws.send(json.dumps({"type": "subscribe", "bookingId": booking}))
            snapshot = json.loads(await ws.recv())
            subscribe_ms.append(1000 * (time.perf_counter() - t))
            assert snapshot.get("type") == "payment.status", snapshot
        conns.append((i, booking, ws))

    await asyncio.gather(*(open_one(i) for i in range(sockets)))

    async def listen(i: int, booking: str, ws) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("status") == "succeeded" and (i, booking) not in arrivals:
                    arrivals[(i, booking)] = time.perf_counter()

    listeners = [asyncio.create_task(listen(*c)) for c in conns]
    statuses = []
    for payment in targets:
        sent_at[payment[0]] = time.perf_counter()
        statuses.append(await post_event(port, succeeded_event(payment)))
        await asyncio.sleep(1 / rate)
    deadline = time.perf_counter() + 10
    while len(arrivals) < len(conns) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(ws.close() for _i, _b, ws in conns), return_exceptions=True)
    latencies = sorted(
        1000 * (t - sent_at[booking]) for (_i, booking), t in arrivals.items()
    )
    # Per event, in the order sent: its first and its last socket's latency.
    per_event = []
    for booking, _payment_id, _intent, _amount in targets:
        mine = [
            1000 * (t - sent_at[booking])
            for (_i, b), t in arrivals.items()
            if b == booking
        ]
        per_event.append([round(min(mine), 1), round(max(mine), 1)] if mine else None)
    return {
        "per_event_first_last_ms": per_event,
        "sockets": len(conns),
        "failed_sockets": len(failed),
        "failures": sorted(set(failed))[:5],
        "events": len(targets),
        "non2xx": sum(1 for s in statuses if s != 200),
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "missed": len(conns) - len(arrivals),
        "subscribe_p50_ms": pct(sorted(subscribe_ms), 0.5),
        "ping_p50_ms": pct(sorted(ping_ms), 0.5),
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


# --- the run ------------------------------------------------------------------------


def setup(args, procs: Procs, work: Path) -> tuple[dict, int, dict]:
    redis_port = free_port()
    procs.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            LOOP,
            "--save",
            "",
            "--appendonly",
            "no",
            "--databases",
            "8",
        ],
        os.environ.copy(),
        work,
    )
    psql(f'drop database if exists "{PG_DB}" with (force)')
    psql(f'create database "{PG_DB}"')
    env = base_env(redis_port)
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    data_path = work / "data.json"
    need = (
        args.rounds * (2 * args.events + 4 * args.push_events)
        + 2 * args.events
        + 2 * WARM_PUSH_EVENTS
    )
    if args.soak:
        need += int(args.soak * 30)
    subprocess.run(
        [PYTHON, str(BENCH / "hotpaths_data.py"), str(data_path), str(need)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    data = json.loads(data_path.read_text())
    ports = {}
    for db, (name, overrides) in enumerate(VARIANTS.items(), start=1):
        venv = {**env, **overrides, "REDIS_URL": f"redis://{LOOP}:{redis_port}/{db}"}
        ports[name] = port = free_port()
        procs.start(
            f"{name}-web",
            [
                str(BIN / "granian"),
                "--interface",
                "asginl",
                "--host",
                LOOP,
                "--port",
                str(port),
                "--workers",
                "2",
                "--loop",
                "uvloop",
                "coaching.asgi:application",
            ],
            venv,
            work,
        )
        procs.start(
            f"{name}-worker",
            [
                str(BIN / "celery"),
                "-A",
                "coaching",
                "worker",
                "-c",
                "1",
                "--loglevel",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            venv,
            work,
        )
    for port in ports.values():
        wait_http(f"http://{LOOP}:{port}/healthz")
    return data, redis_port, ports


def http_round(args, procs, ports, data, pool_of_payments, stack, work, rnd):
    """One round of the HTTP rows on ``stack``, each pair in random order."""
    port, token = ports[stack], data["token"]
    booking = data["payments"][0][0]
    out = {}
    # Status API vs the bare authenticated view.
    pair = [
        ("status", f"/api/payments/status/{booking}"),
        ("status_base", "/bench/auth"),
    ]
    random.shuffle(pair)
    for name, path in pair:
        out[name] = measured(
            procs,
            stack,
            lambda path=path: wrk(
                f"http://{LOOP}:{port}{path}",
                [],
                connections=args.connections,
                seconds=args.duration,
                lua_args=["get", token],
            ),
        )
    # Ingest vs the verify-and-insert view; the worker waits meanwhile.
    take = [pool_of_payments.pop() for _ in range(args.events)]
    real = events_file(work / f"ev-{stack}-{rnd}.txt", take, baseline=False)
    base = events_file(work / f"base-{stack}-{rnd}.txt", take, baseline=True)
    procs.signal(f"{stack}-worker", signal.SIGSTOP)
    pair = [
        ("ingest", "/api/payments/webhook", real),
        ("ingest_base", "/bench/webhook", base),
    ]
    random.shuffle(pair)
    for name, path, file in pair:
        out[name] = measured(
            procs,
            stack,
            lambda path=path, file=file: wrk(
                f"http://{LOOP}:{port}{path}",
                [],
                connections=args.connections,
                seconds=args.duration,
                lua_args=["post", str(file), "2"],
            ),
        )
        # More requests than events: the rest were redeliveries (cheaper).
        out[name]["exhausted"] = out[name]["requests"] > args.events
    # Processing: resume the worker, time and CPU until all are applied.
    ids = [
        json.loads(line.split("\t", 1)[1])["id"]
        for line in real.read_text().splitlines()
    ]
    worker_pids = procs.pids(f"{stack}-worker")
    cpu0 = sum(cpu_seconds(worker_pids).values())
    t0 = time.perf_counter()
    procs.signal(f"{stack}-worker", signal.SIGCONT)
    done = 0
    while time.perf_counter() - t0 < 300:
        done, waiting = processed_count(ids)
        if not waiting:
            break
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    cpu1 = sum(cpu_seconds(procs.pids(f"{stack}-worker")).values())
    out["processing"] = {
        "events": done,
        "processed": done,
        "seconds": wall,
        "eps": done / wall,
        "worker_cpu_ms": 1000 * (cpu1 - cpu0) / max(done, 1),
        "loadavg": os.getloadavg()[0],
    }
    return out


def summarise(rounds: list[dict], pushes: list[dict]) -> dict:
    def med(values):
        values = [v for v in values if v == v]
        return statistics.median(values) if values else float("nan")

    table = {}
    for stack in ("conn", "pool"):
        rs = [r[stack] for r in rounds if stack in r]
        if not rs:
            continue
        table[stack] = {
            "status_rps": med([r["status"]["rps"] for r in rs]),
            "status_base_rps": med([r["status_base"]["rps"] for r in rs]),
            "status_ratio": med(
                [r["status"]["rps"] / r["status_base"]["rps"] for r in rs]
            ),
            "status_cpu_ms": med([r["status"]["server_cpu_ms"] for r in rs]),
            "status_base_cpu_ms": med([r["status_base"]["server_cpu_ms"] for r in rs]),
            "status_p99_ms": med([r["status"]["p99_ms"] for r in rs]),
            "ingest_eps": med([r["ingest"]["rps"] for r in rs]),
            "ingest_base_eps": med([r["ingest_base"]["rps"] for r in rs]),
            "ingest_ratio": med(
                [r["ingest"]["rps"] / r["ingest_base"]["rps"] for r in rs]
            ),
            "ingest_p99_ms": med([r["ingest"]["p99_ms"] for r in rs]),
            "ingest_cpu_ms": med([r["ingest"]["server_cpu_ms"] for r in rs]),
            "ingest_base_cpu_ms": med([r["ingest_base"]["server_cpu_ms"] for r in rs]),
            "processing_eps": med([r["processing"]["eps"] for r in rs]),
            "processing_cpu_ms": med([r["processing"]["worker_cpu_ms"] for r in rs]),
            "processing_cpu_x": med(
                [
                    r["processing"]["worker_cpu_ms"] / r["ingest_base"]["server_cpu_ms"]
                    for r in rs
                ]
            ),
            "processing_missed": sum(
                r["processing"]["events"] - r["processing"]["processed"] for r in rs
            ),
            "errors": sum(
                r[k]["non2xx"] + r[k]["socket_errors"]
                for r in rs
                for k in ("status", "status_base", "ingest", "ingest_base")
            ),
        }
    push = {}
    for p in pushes:
        key = f"{p['stack']}@{p['sockets_asked']}"
        push.setdefault(key, []).append(p)
    table["push"] = {
        key: {
            "p50_ms": med([p["p50_ms"] for p in ps]),
            "p99_ms": med([p["p99_ms"] for p in ps]),
            "missed": sum(p["missed"] for p in ps),
            "non2xx": sum(p["non2xx"] for p in ps),
            "subscribe_p50_ms": med([p["subscribe_p50_ms"] for p in ps]),
            "ping_p50_ms": med([p["ping_p50_ms"] for p in ps]),
        }
        for key, ps in push.items()
    }
    return table


def markdown(table: dict, meta: dict) -> str:
    lines = [
        f"# Hot paths, {meta['started']} ({meta['command']})",
        "",
        f"Machine: {meta['machine']}. Load average at start/end: "
        f"{meta['loadavg_start']} / {meta['loadavg_end']}. Rounds: {meta['rounds']}.",
        "",
        "| what | stack | now | baseline (same rounds) | ratio / cost | target |",
        "|---|---|--:|--:|--:|---|",
    ]
    for stack in ("conn", "pool"):
        t = table.get(stack)
        if not t:
            continue
        lines += [
            f"| webhook ingest | {stack} | {t['ingest_eps']:.0f} ev/s, p99 "
            f"{t['ingest_p99_ms']:.0f} ms, {t['ingest_cpu_ms']:.2f} ms CPU | "
            f"{t['ingest_base_eps']:.0f} ev/s, {t['ingest_base_cpu_ms']:.2f} ms CPU | "
            f"**{t['ingest_ratio']:.2f}** | {TARGETS['ingest']} |",
            f"| processing | {stack} | {t['processing_eps']:.0f} ev/s (1 worker), "
            f"{t['processing_cpu_ms']:.1f} ms CPU/event, 12 statements (test) | "
            f"{t['ingest_base_cpu_ms']:.2f} ms CPU/request | "
            f"**{t['processing_cpu_x']:.1f}x** CPU | {TARGETS['processing']} |",
            f"| status API (Bearer) | {stack} | {t['status_rps']:.0f} req/s, "
            f"{t['status_cpu_ms']:.2f} ms CPU, 2 queries (test) | "
            f"{t['status_base_rps']:.0f} req/s, {t['status_base_cpu_ms']:.2f} ms CPU | "
            f"**{t['status_ratio']:.2f}** | {TARGETS['status']} |",
        ]
    for key, p in sorted(table.get("push", {}).items()):
        lines.append(
            f"| live push | {key} | p50 {p['p50_ms']:.0f} ms, p99 **{p['p99_ms']:.0f} ms**, "
            f"missed {p['missed']} | — | — | {TARGETS['push']} |"
        )
    for key, p in sorted(table.get("push", {}).items()):
        lines.append(
            f"| subscribe (round trip) | {key} | {p['subscribe_p50_ms']:.1f} ms | ping "
            f"{p['ping_p50_ms']:.1f} ms | server ≈ {p['subscribe_p50_ms'] - p['ping_p50_ms']:.1f} ms "
            f"| {TARGETS['subscribe']} |"
        )
    errors = sum(t.get("errors", 0) for k, t in table.items() if k != "push")
    lines += ["", f"HTTP errors (non-2xx and socket errors) in all rounds: {errors}."]
    return "\n".join(lines) + "\n"


def chart(table: dict, path: Path) -> None:
    """A bar chart PNG of the ratios against their targets, without matplotlib:
    one group per row (conn, pool), a grey line at the target."""
    import struct
    import zlib

    bars = []
    for stack, color in (("conn", (90, 110, 200)), ("pool", (60, 170, 90))):
        t = table.get(stack)
        if t:
            bars.append((t["ingest_ratio"], 0.7, color))
            bars.append((t["status_ratio"], 0.8, color))
            bars.append((min(1.0, 5 / max(t["processing_cpu_x"], 0.01)), 1.0, color))
    for _key, p in sorted(table.get("push", {}).items()):
        bars.append((min(1.5, 100 / max(p["p99_ms"], 1)), 1.0, (200, 120, 60)))
    w, h, bw, gap = 60 + len(bars) * 50, 260, 30, 20
    img = [[(255, 255, 255)] * w for _ in range(h)]
    base = h - 20
    scale = 150  # 1.0 = 150 px
    for i, (value, target, color) in enumerate(bars):
        x0 = 40 + i * (bw + gap)
        top = base - int(max(0.0, min(value, 1.6)) * scale)
        for y in range(top, base):
            for x in range(x0, x0 + bw):
                img[y][x] = color
        ty = base - int(target * scale)
        for x in range(x0 - 5, x0 + bw + 5):
            img[ty][x] = (0, 0, 0)
    for x in range(30, w - 10):
        img[base][x] = (0, 0, 0)
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in img)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def machine() -> str:
    mem = Path("/proc/meminfo").read_text().split()[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def soak(args, procs, ports, data, payments, work) -> dict:
    """Mixed load for ``args.soak`` seconds: status API and webhooks by wrk in
    one-minute slices, 1,000 sockets held open; per slice the p99s, errors and
    every process's RSS."""
    stack = "pool"
    port, token = ports[stack], data["token"]
    booking = data["payments"][0][0]
    slices = []
    start = time.monotonic()

    async def hold_sockets():
        from websockets.asyncio.client import connect

        socks = []
        for i in range(args.sockets):
            ws = await connect(
                f"ws://{LOOP}:{port}/ws/payments/",
                additional_headers={"Authorization": f"Bearer {token}"},
                origin=f"http://{LOOP}:{port}",
                open_timeout=30,
            )
            await ws.send(
                json.dumps(
                    {"type": "subscribe", "bookingId": data["payments"][i % 50][0]}
                )
            )
            socks.append(ws)
        return socks

    loop = asyncio.new_event_loop()
    socks = loop.run_until_complete(hold_sockets())
    # The sockets live on (keep-alive pings answered) in a thread of their own.
    import threading

    threading.Thread(target=loop.run_forever, daemon=True).start()
    slice_s = min(60, args.soak)
    while time.monotonic() - start < args.soak:
        take = [payments.pop() for _ in range(int(slice_s * 10))]
        evf = events_file(work / f"soak-{len(slices)}.txt", take, baseline=False)
        st = {}
        proc = subprocess.Popen(
            [
                "wrk",
                "-t1",
                "-c8",
                f"-d{round(slice_s)}s",
                "-s",
                str(BENCH / "hotpaths.lua"),
                f"http://{LOOP}:{port}/api/payments/webhook",
                "--",
                "post",
                str(evf),
                "1",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        st["status"] = wrk(
            f"http://{LOOP}:{port}/api/payments/status/{booking}",
            [],
            connections=16,
            seconds=slice_s,
            lua_args=["get", token],
        )
        out = proc.communicate(timeout=slice_s + 120)[0]
        st["webhook"] = next(
            json.loads(x[5:]) for x in out.splitlines() if x.startswith("JSON:")
        )
        st["rss_mib"] = {
            name: rss_kb(procs.pids(name))[0] // 1024 for name in procs.groups
        }
        st["t"] = round(time.monotonic() - start)
        st["loadavg"] = os.getloadavg()[0]
        slices.append(st)
        log(
            f"soak t={st['t']}s status p99 {st['status']['p99_ms']:.0f} ms, "
            f"webhook p99 {st['webhook']['p99_ms']:.0f} ms, rss {st['rss_mib']}"
        )
    open_socks = sum(1 for ws in socks if ws.state.name == "OPEN")

    async def close_all():
        await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)

    asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)
    requests = sum(s[k]["requests"] for s in slices for k in ("status", "webhook"))
    errors = sum(
        s[k]["non2xx"] + s[k]["socket_errors"]
        for s in slices
        for k in ("status", "webhook")
    )
    first, last = slices[0], slices[-1]
    return {
        "slices": slices,
        "requests": requests,
        "error_rate": errors / max(requests, 1),
        "sockets_open_at_end": open_socks,
        "status_p99_first_last_ms": [
            first["status"]["p99_ms"],
            last["status"]["p99_ms"],
        ],
        "webhook_p99_first_last_ms": [
            first["webhook"]["p99_ms"],
            last["webhook"]["p99_ms"],
        ],
        "rss_growth_mib": {
            k: last["rss_mib"][k] - first["rss_mib"][k] for k in last["rss_mib"]
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=2, help="seconds per wrk run")
    parser.add_argument(
        "--events", type=int, default=1500, help="signed events per ingest run"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--push-events", type=int, default=20)
    parser.add_argument("--push-rate", type=float, default=10, help="events per second")
    parser.add_argument(
        "--soak", type=float, default=0, help="seconds of mixed load instead"
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {
        "started": started,
        "command": "python bench/hotpaths.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "rounds": args.rounds,
    }
    procs = Procs()
    work = Path(tempfile.mkdtemp(prefix="hotpaths-"))
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        log("setting up (PostgreSQL database, Redis, 3 stacks of granian x2 + Celery)")
        data, _redis, ports = setup(args, procs, work)
        payments = list(reversed(data["payments"][1:]))
        # Warm-up: every stack answers both kinds of request once.
        for stack in ("conn", "pool", "pubsub"):
            wrk(
                f"http://{LOOP}:{ports[stack]}/bench/auth",
                [],
                connections=4,
                seconds=1,
                lua_args=["get", data["token"]],
            )
        # And every push stack applies a few events once (untimed): the first
        # event a fresh worker and server handle pays one-time costs (imports,
        # the first Redis and database connections, the first templates); a
        # run measures the processes as they serve, warm.
        for stack in ("conn", "pubsub"):
            warm = [payments.pop() for _ in range(WARM_PUSH_EVENTS)]
            asyncio.run(
                push_round(ports[stack], data["token"], warm, 50, WARM_PUSH_EVENTS, 10)
            )
        if args.soak:
            result = {
                "meta": meta,
                "soak": soak(args, procs, ports, data, payments, work),
            }
            name = "soak"
        else:
            rounds, pushes = [], []
            for rnd in range(args.rounds):
                order = ["conn", "pool"] if rnd % 2 == 0 else ["pool", "conn"]
                row = {}
                for stack in order:
                    log(f"round {rnd + 1}: HTTP rows on {stack}")
                    row[stack] = http_round(
                        args, procs, ports, data, payments, stack, work, rnd
                    )
                rounds.append(row)
                combos = [
                    ("conn", args.sockets),
                    ("pubsub", args.sockets),
                    ("conn", 100),
                    ("pubsub", 100),
                ]
                if rnd % 2:
                    combos.reverse()
                for stack, n in combos:
                    take = [payments.pop() for _ in range(args.push_events)]
                    log(f"round {rnd + 1}: live push on {stack} with {n} sockets")
                    res = asyncio.run(
                        push_round(
                            ports[stack],
                            data["token"],
                            take,
                            n,
                            args.push_events,
                            args.push_rate,
                        )
                    )
                    res.update(stack=stack, sockets_asked=n, loadavg=os.getloadavg()[0])
                    pushes.append(res)
            table = summarise(rounds, pushes)
            result = {
                "meta": meta,
                "summary": table,
                "rounds": rounds,
                "pushes": pushes,
            }
            name = "hotpaths"
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        RESULTS.mkdir(exist_ok=True)
        stamp = started.replace(":", "").replace("-", "")
        out = RESULTS / f"{name}-{stamp}.json"
        out.write_text(json.dumps(result, indent=1, default=str))
        shutil.copy(out, RESULTS / f"{name}-latest.json")
        if name == "hotpaths":
            md = markdown(result["summary"], meta)
            (RESULTS / f"{name}-{stamp}.md").write_text(md)
            (RESULTS / f"{name}-latest.md").write_text(md)
            chart(result["summary"], RESULTS / f"{name}-latest.png")
            print(md)
        else:
            print(
                json.dumps(
                    {k: v for k, v in result["soak"].items() if k != "slices"}, indent=1
                )
            )
        return 0
    except BaseException:
        keep = Path(tempfile.gettempdir()) / "hotpaths-logs"
        keep.mkdir(exist_ok=True)
        for f in work.glob("*.log"):
            shutil.copy(f, keep / f.name)
        log(f"failed; the processes' logs are in {keep}")
        raise
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            psql(f'drop database if exists "{PG_DB}" with (force)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
