"""Which ASGI server to run in production: daphne vs uvicorn vs granian, measured.

Sets up a fresh SQLite database in a temporary directory (``migrate``,
``seed_demo`` and a page of bookings for the demo client), starts every server
under test at once on its own loopback port with its own copy of that database,
in the production-like configuration (DEBUG off, dummy Stripe keys,
``ALLOWED_HOSTS=127.0.0.1``, requests carry the proxy's ``X-Forwarded-Proto``),
then runs the load generator (``bench/loadgen.py``, a separate process) against
each server in turn: ``rounds`` rounds, the server order rotated every round,
so that the noise of a shared machine falls on all of them alike. Reported per
server and endpoint: medians over the rounds of requests/s and of p50/p99
latency, the errors summed, the median of the per-round ratio to daphne (the
baseline measured in the same round), server CPU time per request, and the
peak RSS of the server's processes.

    .venv/bin/python bench/asgi_servers.py --duration 10 --rounds 3
    .venv/bin/python bench/asgi_servers.py --servers daphne,uvicorn:1,uvicorn:2

Servers are stopped (their whole process group) on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

ENDPOINTS = {
    "healthz": "/healthz",
    "coaches": "/api/coaches/",
    "bookings": "/api/bookings/",
}
DEMO_LOGIN = {"email": "client@example.com", "password": "coaching-demo"}
DEMO_BOOKINGS = 25  # more than one page of 20: the list pays for its count query

# Run by ``manage.py shell -c``: a page of the client's bookings to list.
SEED_BOOKINGS = f"""
import datetime as dt
from zoneinfo import ZoneInfo
from django.utils import timezone
from accounts.models import User
from bookings.models import Offering
from bookings.services import booking_create

client = User.objects.get(email="client@example.com")
coach = User.objects.get(email="coach@example.com")
offering = Offering.objects.filter(coach=coach, active=True).order_by(
    "-duration_minutes").first()
zone = ZoneInfo("Europe/Zurich")
today = timezone.now().astimezone(zone).date()
for day in range(1, {DEMO_BOOKINGS} + 1):
    start = dt.datetime.combine(today + dt.timedelta(days=day), dt.time(10), tzinfo=zone)
    booking_create(client=client, offering=offering, starts_at=start, actor=client)
"""


# --- /proc helpers ----------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def group_pids(pgid: int) -> list[int]:
    """Every live process in the process group ``pgid`` (a server and its workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        # fields[0] is the state, [2] the process group.
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU time (user + system) used so far by each process."""
    used = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            used[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return used


def rss_kb(pids: list[int]) -> tuple[int, int]:
    """(current RSS, sum of each process's peak RSS) in KiB."""
    current = peak = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    current += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
    return current, peak


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


# --- servers ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def server_command(kind: str, workers: int, port: int) -> list[str]:
    app = "coaching.asgi:application"
    if kind == "daphne":
        return [PYTHON, "-m", "daphne", "-b", LOOPBACK, "-p", str(port), app]
    if kind == "uvicorn":
        return [
            *(PYTHON, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)),
            *("--workers", str(workers), "--loop", "uvloop", "--http", "httptools"),
            # daphne logs no access lines by default; the proxy logs them anyway.
            *("--no-access-log", "--lifespan", "off"),
        ]
    if kind == "granian":
        return [
            *(PYTHON, "-m", "granian", "--interface", "asginl"),
            *("--host", LOOPBACK, "--port", str(port), "--workers", str(workers)),
            *("--loop", "uvloop", app),
        ]
    raise ValueError(kind)


@dataclass
class Server:
    name: str
    kind: str
    workers: int
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    token: str = ""
    skipped: str = ""
    peak_rss_kb: int = 0
    peak_hwm_kb: int = 0
    processes: int = 0
    runs: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return group_pids(self.process.pid) if self.process else []

    def sample_rss(self) -> None:
        pids = self.pids
        current, hwm = rss_kb(pids)
        self.peak_rss_kb = max(self.peak_rss_kb, current)
        self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
        self.processes = max(self.processes, len(pids))

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        pgid = self.process.pid  # started with start_new_session: pgid == pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)
        # Workers that outlived their parent are in the same group.
        for _ in range(20):
            if not group_pids(pgid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)


def parse_servers(spec: str) -> list[Server]:
    servers = []
    for item in spec.split(","):
        kind, _, workers = item.strip().partition(":")
        if kind not in {"daphne", "uvicorn", "granian"}:
            raise SystemExit(f"unknown server {kind!r}")
        count = int(workers or (1 if kind == "daphne" else 2))
        if kind == "daphne" and count != 1:
            raise SystemExit("daphne runs one process: give it as 'daphne'")
        name = "daphne" if kind == "daphne" else f"{kind} x{count}"
        servers.append(Server(name=name, kind=kind, workers=count))
    if servers[0].kind != "daphne":
        raise SystemExit("the first server is the baseline and must be daphne")
    return servers


def request(
    port: int, path: str, body: dict | None = None, token: str = ""
) -> tuple[int, dict]:
    headers = {"X-Forwarded-Proto": "https", "Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        f"http://{LOOPBACK}:{port}{path}", data=data, headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def wait_until_up(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: see {server.log_path}")
        with contextlib.suppress(OSError):
            if request(server.port, "/healthz")[0] == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} did not answer /healthz in {timeout:.0f} s")


# --- setup ------------------------------------------------------------------


def base_env(db_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "STRIPE_API_BASE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="coaching.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),
        STRIPE_SECRET_KEY="sk_test_bench_dummy",
        STRIPE_PUBLISHABLE_KEY="pk_test_bench_dummy",
        STRIPE_WEBHOOK_SECRET="whsec_bench_dummy",
        ALLOWED_HOSTS=LOOPBACK,
        SQLITE_PATH=str(db_path),
        STATIC_MANIFEST="0",
        LOG_LEVEL="WARNING",
        # The whole run must fit in one access token's life.
        JWT_ACCESS_MINUTES="240",
        PAYMENT_HOLD_MINUTES="1440",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def prepare_database(workdir: Path) -> Path:
    template = workdir / "template.sqlite3"
    env = base_env(template)
    manage = [PYTHON, str(ROOT / "manage.py")]
    for args in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        subprocess.run([*manage, *args], cwd=ROOT, env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*manage, "shell", "-c", SEED_BOOKINGS],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return template


def start(server: Server, workdir: Path, template: Path) -> None:
    if server.kind == "granian" and importlib.util.find_spec("granian") is None:
        server.skipped = (
            "granian is not installed (.venv/bin/pip install granian to include it)"
        )
        return
    db = workdir / f"{server.name.replace(' ', '-')}.sqlite3"
    shutil.copyfile(template, db)
    server.port = free_port()
    server.log_path = workdir / f"{server.name.replace(' ', '-')}.log"
    log = server.log_path.open("wb")
    server.process = subprocess.Popen(  # noqa: S603
        server_command(server.kind, server.workers, server.port),
        cwd=ROOT,
        env=base_env(db),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped as one
    )
    log.close()


def login(server: Server) -> None:
    status, body = request(server.port, "/api/auth/login/", body=DEMO_LOGIN)
    if status != 200 or not body.get("access"):
        raise RuntimeError(f"login on {server.name} answered {status}")
    server.token = body["access"]
    check, page = request(server.port, "/api/bookings/", token=server.token)
    if check != 200 or page.get("count") != DEMO_BOOKINGS:
        raise RuntimeError(f"/api/bookings/ on {server.name}: {check} {page!r:.200}")


# --- load -------------------------------------------------------------------


def run_load(
    server: Server,
    endpoint: str,
    duration: float,
    connections: int,
    reconnect_every: int = 0,
) -> dict:
    command = [
        *(PYTHON, str(LOADGEN), "--port", str(server.port)),
        *("--path", ENDPOINTS[endpoint], "--duration", str(duration)),
        *("--connections", str(connections)),
        *("--reconnect-every", str(reconnect_every)),
    ]
    if endpoint == "bookings":
        command += ["--header", f"Authorization: Bearer {server.token}"]
    pids = server.pids
    cpu_before = cpu_seconds(pids)
    busy_before, total_before = machine_busy()
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    )
    busy_after, total_after = machine_busy()
    cpu_after = cpu_seconds(pids)
    per_process = sorted(
        (cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after), reverse=True
    )
    server_cpu = sum(per_process)
    result = json.loads(done.stdout)
    wall_ticks = (total_after - total_before) or 1
    cores = os.cpu_count() or 1
    # Whole machine in cores busy; what is neither server nor client is others.
    machine_cores = (busy_after - busy_before) / wall_ticks * cores
    elapsed = result["duration_s"] or 1
    result["server_cpu_s"] = round(server_cpu, 3)
    # How evenly the workers shared the load (the supervisor, if any, is ~0).
    result["server_cpu_s_per_process"] = [round(c, 3) for c in per_process]
    result["busiest_process_share"] = per_process[0] / server_cpu if server_cpu else 0
    result["server_cores"] = server_cpu / elapsed
    result["client_cores"] = result["client_cpu_s"] / elapsed
    result["other_cores"] = max(
        0.0, machine_cores - result["server_cores"] - result["client_cores"]
    )
    result["server_cpu_ms_per_req"] = (
        server_cpu * 1000 / result["requests"] if result["requests"] else float("nan")
    )
    return result


class RssSampler(threading.Thread):
    def __init__(self, servers: list[Server], every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.servers = servers
        self.every = every
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            for server in self.servers:
                server.sample_rss()


# --- report -----------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(servers: list[Server], endpoints: list[str]) -> list[dict]:
    baseline = servers[0]
    rows = []
    for endpoint in endpoints:
        for server in servers:
            runs = server.runs.get(endpoint, [])
            if not runs:
                continue
            base_runs = baseline.runs.get(endpoint, [])
            ratios = [
                run["rps"] / base["rps"]
                for run, base in zip(runs, base_runs, strict=False)
                if base["rps"]
            ]
            rows.append(
                {
                    "endpoint": ENDPOINTS[endpoint],
                    "server": server.name,
                    "rps": median([r["rps"] for r in runs]),
                    "rps_runs": [round(r["rps"]) for r in runs],
                    "ratio": median(ratios),
                    "p50_ms": median([r["p50_ms"] for r in runs]),
                    "p99_ms": median([r["p99_ms"] for r in runs]),
                    "errors": sum(r["errors"] for r in runs),
                    "requests": sum(r["requests"] for r in runs),
                    "cpu_ms_per_req": median(
                        [r["server_cpu_ms_per_req"] for r in runs]
                    ),
                    "server_cores": median([r["server_cores"] for r in runs]),
                    "client_cores": median([r["client_cores"] for r in runs]),
                    "other_cores": median([r["other_cores"] for r in runs]),
                    "busiest_process_share": median(
                        [r["busiest_process_share"] for r in runs]
                    ),
                    "peak_rss_mib": server.peak_rss_kb / 1024,
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    head = (
        "| endpoint | server | req/s (median) | x daphne | p50 ms | p99 ms | errors "
        "| server CPU ms/req | server cores | loadgen cores | other load, cores "
        "| busiest process, % of server CPU | peak RSS MiB | req/s per round |\n"
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n"
    )
    lines = [
        f"| `{r['endpoint']}` | {r['server']} | {r['rps']:.0f} | {r['ratio']:.2f} "
        f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
        f"| {r['cpu_ms_per_req']:.2f} | {r['server_cores']:.2f} "
        f"| {r['client_cores']:.2f} | {r['other_cores']:.2f} "
        f"| {r['busiest_process_share'] * 100:.0f} | {r['peak_rss_mib']:.0f} | {' / '.join(map(str, r['rps_runs']))} |"
        for r in rows
    ]
    return head + "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("django", "channels", "daphne", "uvicorn", "granian", "uvloop"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


# --- main -------------------------------------------------------------------


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="s per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=0,
        help="each client connection is replaced after this many requests "
        "(0: kept for the whole run; 1: a new connection per request)",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="s per server+path")
    parser.add_argument(
        "--servers",
        default="daphne,uvicorn:2,granian:2",
        help="comma list; the first is the baseline (daphne); kind[:workers]",
    )
    parser.add_argument(
        "--endpoints", default=",".join(ENDPOINTS), help="of: " + ",".join(ENDPOINTS)
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60 or not 1 <= args.rounds <= 10:
        parser.error("--duration in (0, 60] s and --rounds in 1..10")
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if unknown := set(endpoints) - set(ENDPOINTS):
        parser.error(f"unknown endpoints {sorted(unknown)}")
    servers = parse_servers(args.servers)

    signal.signal(signal.SIGTERM, _raise_interrupt)
    started_at = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="bench-asgi-"))
    sampler = RssSampler([])
    live: list[Server] = []
    try:
        print(f"setting up a fresh SQLite database in {workdir} ...", flush=True)
        template = prepare_database(workdir)
        for server in servers:
            start(server, workdir, template)
        live = [s for s in servers if not s.skipped]
        for server in live:
            wait_until_up(server)
            login(server)
            print(f"  {server.name}: up on port {server.port}", flush=True)
        for server in servers:
            if server.skipped:
                print(f"  {server.name}: SKIPPED, {server.skipped}", flush=True)
        sampler = RssSampler(live)
        sampler.start()
        print(f"warm-up: {args.warmup:g} s per server and endpoint", flush=True)
        for server in live:
            for endpoint in endpoints:
                run_load(
                    server,
                    endpoint,
                    args.warmup,
                    args.connections,
                    args.reconnect_every,
                )
        for round_no in range(args.rounds):
            # Rotate the order so no server always runs first or last.
            order = live[round_no % len(live) :] + live[: round_no % len(live)]
            for endpoint in endpoints:
                for server in order:
                    result = run_load(
                        server,
                        endpoint,
                        args.duration,
                        args.connections,
                        args.reconnect_every,
                    )
                    server.runs.setdefault(endpoint, []).append(result)
                    print(
                        f"  round {round_no + 1}/{args.rounds} {ENDPOINTS[endpoint]:<15}"
                        f" {server.name:<11} {result['rps']:8.0f} req/s"
                        f"  p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms"
                        f"  errors {result['errors']}",
                        flush=True,
                    )
        for server in live:
            server.sample_rss()
    except KeyboardInterrupt:
        print("interrupted: stopping the servers", file=sys.stderr)
        return 130
    except Exception:
        for server in servers:
            if server.log_path and server.log_path.exists():
                tail = server.log_path.read_text(errors="replace")[-1500:]
                print(f"--- {server.name} log tail:\n{tail}", file=sys.stderr)
        raise
    finally:
        sampler.halt.set()
        for server in servers:
            server.stop()
        failed = [
            s
            for s in servers
            if s.process and s.process.returncode not in (0, -15, None)
        ]
        for server in failed:
            print(f"note: {server.name} exited {server.process.returncode}; log tail:")
            print(server.log_path.read_text(errors="replace")[-2000:])
        shutil.rmtree(workdir, ignore_errors=True)

    rows = summarise(live, endpoints)
    reconnect = (
        f"each replaced after {args.reconnect_every} request(s)"
        if args.reconnect_every
        else "kept alive for the whole run"
    )
    finished_at = dt.datetime.now(dt.UTC)
    print()
    print(
        f"{started_at:%Y-%m-%d %H:%M}-{finished_at:%H:%M} UTC, {os.cpu_count()} cores, "
        f"load average at the end {os.getloadavg()[0]:.2f}; {args.connections} "
        f"connections ({reconnect}), {args.rounds} round(s) x {args.duration:g} s per server and "
        "endpoint; medians over rounds; x daphne = median of the per-round ratios"
    )
    print(" ".join(f"{k} {v}" for k, v in versions().items()))
    for server in servers:
        if server.skipped:
            print(f"{server.name}: skipped, {server.skipped}")
    print()
    print(markdown(rows))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "started_at": started_at.isoformat(),
                    "finished_at": finished_at.isoformat(),
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "versions": versions(),
                    "rows": rows,
                    "runs": {s.name: s.runs for s in live},
                },
                indent=1,
            )
        )
    errors = sum(r["errors"] for r in rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
