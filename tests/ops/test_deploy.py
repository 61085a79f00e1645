"""The production process definition restarts what dies (issue 13, defect 1).

``deploy/Procfile``, the systemd units in ``deploy/systemd/`` and README.md
document one production command per process. The web command is started as
written (granian, 2 workers) and one worker is killed with SIGKILL under a
light load: granian must respawn it and ``/healthz`` must keep answering.
Without ``--respawn-failed-workers`` granian shut the whole server down.
Needs no PostgreSQL or Redis: it runs on both CI legs.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.ops.conftest import procfile
from tests.processes import LoggedProcess

DEPLOY = settings.BASE_DIR / "deploy"
UNITS = {
    "web": "coaching-web.service",
    "worker": "coaching-worker.service",
    "beat": "coaching-beat.service",
}
# Generous bounds: two shared cores, other test runs beside us.
START_TIMEOUT = 60.0
RECOVER_TIMEOUT = 60.0


def unit(name: str) -> dict[str, str]:
    options = {}
    for line in (DEPLOY / "systemd" / UNITS[name]).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            options.setdefault(key.strip(), value.strip())
    return options


def test_deploy_procfile_units_and_readme_give_the_same_commands():
    commands = procfile()
    assert set(commands) == {"web", "worker", "beat"}
    readme = " ".join((settings.BASE_DIR / "README.md").read_text().split())
    for name, command in commands.items():
        options = unit(name)
        assert options["Restart"] == "always", name
        assert options["StartLimitIntervalSec"] == "0", name
        # The unit runs the venv's copy of the same program with the same args.
        program, *args = shlex.split(command)
        unit_program, *unit_args = shlex.split(options["ExecStart"])
        assert unit_program.endswith(f"/.venv/bin/{program}"), name
        assert unit_args == args, name
        assert command in readme, f"README.md does not document: {command}"
    assert "--respawn-failed-workers" in commands["web"]
    # One documented production server: the benchmark's choice, not uvicorn.
    assert not re.search(r"uvicorn[^`]*--workers", readme)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _wait(condition, what: str, server: LoggedProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if server.popen.poll() is not None:
            pytest.fail(f"granian exited before {what}:\n{server.output()}")
        time.sleep(0.1)
    pytest.fail(f"{what} not within {timeout}s:\n{server.output()}")


class LightLoad(threading.Thread):
    """Requests /healthz back to back, counting answers after a mark."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.running = url, True
        self.ok_since_mark = 0

    def mark(self) -> None:
        self.ok_since_mark = 0

    def run(self) -> None:
        while self.running:
            if _healthy(self.url):
                self.ok_since_mark += 1
            else:
                time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_web_worker_killed_is_respawned_and_healthz_keeps_answering(tmp_path):
    port = _free_port()
    program, *args = shlex.split(procfile()["web"])
    args[args.index("--port") + 1] = str(port)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env["SQLITE_PATH"] = str(tmp_path / "db.sqlite3")
    server = LoggedProcess(
        "granian",
        [str(Path(sys.executable).parent / program), *args],
        env,
        tmp_path / "granian.log",
    )
    url = f"http://127.0.0.1:{port}"
    load = LightLoad(url)
    try:
        main = server.popen.pid
        _wait(lambda: len(_children(main)) == 2, "2 workers", server, START_TIMEOUT)
        _wait(lambda: _healthy(url), "/healthz answering", server, START_TIMEOUT)
        first, second = sorted(_children(main))
        load.start()

        os.kill(first, signal.SIGKILL)
        load.mark()
        _wait(lambda: load.ok_since_mark > 0, "an answer after the kill", server, 10)
        _wait(
            lambda: len(_children(main) - {first, second}) == 1,
            "a respawned worker",
            server,
            RECOVER_TIMEOUT,
        )
        assert server.popen.poll() is None, server.output()

        # Kill the other original worker too: only the respawned one is left,
        # so answers now prove it serves.
        os.kill(second, signal.SIGKILL)
        load.mark()
        _wait(
            lambda: load.ok_since_mark > 3,
            "answers from the respawned worker",
            server,
            RECOVER_TIMEOUT,
        )
        assert server.popen.poll() is None, server.output()
    finally:
        load.running = False
        workers = _children(server.popen.pid)
        server.stop()
        # A worker respawned while granian was stopping (or granian killed
        # after a slow stop) would outlive it, holding the port: end ours.
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
