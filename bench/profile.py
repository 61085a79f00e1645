"""Where a hot path's time goes: py-spy samples one stack of ``make bench``'s
production shape under load, and this prints the functions that hold the
interpreter longest below the path's entry point.

    .venv/bin/python bench/profile.py ingest            # the webhook view
    .venv/bin/python bench/profile.py status --stack conn
    .venv/bin/python bench/profile.py processing        # the Celery worker

One stack as in ``hotpaths.py`` (granian with one worker here, so one process
is sampled; Celery ``-c 1``; its own redis-server and PostgreSQL database
``coaching_perf_profile``), loaded with wrk for ``--seconds``; py-spy records
with ``--gil`` (only the thread holding the GIL: CPU in Python, not waits).
The raw samples (collapsed stacks) are kept in ``--out`` for a flame graph.
Sampling slows the server down, so read shares, not rates.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BENCH_PG_DB", "coaching_perf_profile")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import hotpaths as hp  # the bench's own helpers, beside this file

# The frame each path's time is counted under.
ENTRY = {
    "ingest": "stripe_webhook",
    "ingest_base": "webhook_baseline",
    "status": "PaymentStatusApi.get",
    "status_base": "AuthBaselineApi.get",
    "processing": "webhook_event_process",
}


def start_stack(procs: hp.Procs, stack: str, work: Path, payments: int) -> tuple:
    redis_port = hp.free_port()
    procs.start(
        "redis",
        [
            *("redis-server", "--port", str(redis_port), "--bind", hp.LOOP),
            *("--save", "", "--appendonly", "no"),
        ],
        os.environ.copy(),
        work,
    )
    hp.psql(f'drop database if exists "{hp.PG_DB}" with (force)')
    hp.psql(f'create database "{hp.PG_DB}"')
    env = {**hp.base_env(redis_port), **hp.VARIANTS[stack]}
    manage = [hp.PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=hp.ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "seed_demo"],
        cwd=hp.ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    data_file = work / "data.json"
    subprocess.run(
        [hp.PYTHON, str(hp.BENCH / "hotpaths_data.py"), str(data_file), str(payments)],
        cwd=hp.ROOT,
        env=env,
        check=True,
    )
    port = hp.free_port()
    procs.start(
        "web",
        [
            *(str(hp.BIN / "granian"), "--interface", "asginl", "--host", hp.LOOP),
            *("--port", str(port), "--workers", "1", "--loop", "uvloop"),
            "coaching.asgi:application",
        ],
        env,
        work,
    )
    hp.wait_http(f"http://{hp.LOOP}:{port}/healthz")
    return env, port, json.loads(data_file.read_text())


def record(pid: int, out: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *(str(hp.BIN / "py-spy"), "record", "--subprocesses", "--gil", "-r", "200"),
            *("-d", str(int(seconds)), "-f", "raw", "-o", str(out), "-p", str(pid)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summary(samples: Path, entry: str, top: int) -> str:
    """Inclusive share of each function below ``entry``, and of ``entry``'s
    direct callees, from py-spy's collapsed stacks."""
    below, direct = collections.Counter(), collections.Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [
            re.sub(r" \(.*?(site-packages|python3\.11|work/main)/", " (", f)
            for f in stack.split(";")
        ]
        at = next((i for i, f in enumerate(frames) if f.startswith(entry + " ")), None)
        if at is None:
            continue
        n = int(count)
        total += n
        direct[frames[at + 1] if at + 1 < len(frames) else "(itself)"] += n
        for name in {re.sub(r":\d+\)$", ")", f) for f in frames[at:]}:
            below[name] += n
    lines = [f"{total} samples under {entry}", "", "direct callees (by line):"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in direct.most_common(top)]
    lines += ["", "every function below it (inclusive):"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in below.most_common(top * 2)]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", choices=sorted(ENTRY))
    parser.add_argument("--stack", choices=["conn", "pool"], default="pool")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--events", type=int, default=600, help="for processing")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = (
        args.out
        or Path(tempfile.gettempdir()) / f"profile-{args.path}-{args.stack}.txt"
    )
    procs = hp.Procs()
    work = Path(tempfile.mkdtemp(prefix="profile-"))
    try:
        env, port, data = start_stack(procs, args.stack, work, args.events + 3000)
        payments = list(data["payments"][1:])
        hp.wrk(
            f"http://{hp.LOOP}:{port}/bench/auth",
            [],
            connections=4,
            seconds=1,
            lua_args=["get", data["token"]],
        )
        if args.path == "processing":
            events = hp.events_file(
                work / "events.txt", payments[: args.events], baseline=False
            )
            hp.wrk(
                f"http://{hp.LOOP}:{port}/api/payments/webhook",
                [],
                connections=8,
                seconds=max(2.0, args.events / 60),
                lua_args=["post", str(events), "2"],
            )
            procs.start(
                "worker",
                [
                    *(str(hp.BIN / "celery"), "-A", "coaching", "worker", "-c", "1"),
                    *("--loglevel", "WARNING", "--without-heartbeat"),
                    *("--without-gossip", "--without-mingle"),
                ],
                env,
                work,
            )
            spy = record(procs.groups["worker"].pid, out, args.seconds)
            spy.wait()
        else:
            if args.path.startswith("ingest"):
                events = hp.events_file(
                    work / "events.txt",
                    payments[:2500],
                    baseline=args.path == "ingest_base",
                )
                path = (
                    "/api/payments/webhook"
                    if args.path == "ingest"
                    else "/bench/webhook"
                )
                lua = ["post", str(events), "2"]
            else:
                booking = data["payments"][0][0]
                path = (
                    f"/api/payments/status/{booking}"
                    if args.path == "status"
                    else "/bench/auth"
                )
                lua = ["get", data["token"]]
            spy = record(procs.groups["web"].pid, out, args.seconds)
            time.sleep(0.5)
            hp.wrk(
                f"http://{hp.LOOP}:{port}{path}",
                [],
                connections=16,
                seconds=args.seconds - 1,
                lua_args=lua,
            )
            spy.wait()
        print(summary(out, ENTRY[args.path], args.top))
        print(f"\nraw samples: {out}")
        return 0
    finally:
        procs.stop_all()
        hp.psql(f'drop database if exists "{hp.PG_DB}" with (force)')


if __name__ == "__main__":
    sys.exit(main())
