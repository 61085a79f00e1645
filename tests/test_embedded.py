"""`make run` works: the launcher serves the app, runs the emulator and stops clean.

The launcher runs as a subprocess in its own process group, the way a terminal
runs it, on free ports and a private SQLite file; Ctrl-C and `kill` reach the
whole group.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

# Variables the launcher decides on; the test run's own values must not leak in.
LAUNCHER_DECIDES = {
    "DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_JS_URL",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "STATIC_MANIFEST",
}


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=2) as response:
        return response.status


def _is_listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition, timeout: float, what: str, process, log_path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"launcher exited with {process.returncode} before {what}:\n"
                + log_path.read_text()
            )
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n" + log_path.read_text())


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def launcher(request, tmp_path):
    # With param "sigint-ignored" the launcher inherits SIGINT ignored, as a
    # background job of a non-interactive shell does; Ctrl-C must still work.
    sigint_ignored = getattr(request, "param", None) == "sigint-ignored"
    port, emulator_port = _free_ports(2)
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_DECIDES}
    env.update(
        PORT=str(port),
        STRIPE_EMULATOR_PORT=str(emulator_port),
        SQLITE_PATH=str(tmp_path / "embedded.sqlite3"),
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "launcher.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coaching.embedded"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )
    try:
        yield process, port, emulator_port, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.parametrize(
    ("launcher", "stop_signal"),
    [
        pytest.param("default", signal.SIGTERM, id="SIGTERM"),
        pytest.param("default", signal.SIGINT, id="SIGINT"),
        pytest.param("sigint-ignored", signal.SIGINT, id="SIGINT-inherited-ignored"),
    ],
    indirect=["launcher"],
)
def test_embedded_launcher_serves_app_and_emulator_then_stops_clean(
    launcher, stop_signal
):
    process, port, emulator_port, log_path = launcher
    app = f"http://127.0.0.1:{port}"
    emulator = f"http://127.0.0.1:{emulator_port}"

    _wait(
        lambda: "Stop with Ctrl-C." in log_path.read_text(),
        60,
        "the launcher to say the app is up",
        process,
        log_path,
    )
    assert _get(f"{app}/healthz") == 200
    assert _get(f"{app}/") == 200
    assert _get(f"{emulator}/v1/customers", Authorization="Bearer sk_test_x") == 200
    log = log_path.read_text()
    assert f"running at {app}/" in log
    assert f"Webhook registered with the emulator: {app}/api/payments/webhook" in log
    assert "Demo logins" in log or "seed_demo command is missing" in log

    # localstripe has no endpoint listing webhooks: prove the registration by
    # a delivery. Creating a customer makes it post `customer.created` to the
    # app, whose server logs the request (whatever the handler answers).
    body = b"email=someone@example.com"
    request = urllib.request.Request(
        f"{emulator}/v1/customers",
        data=body,
        headers={"Authorization": "Bearer sk_test_x"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    _wait(
        lambda: "POST /api/payments/webhook" in log_path.read_text(),
        15,
        "the emulator to deliver a webhook to the app",
        process,
        log_path,
    )

    os.killpg(process.pid, stop_signal)

    assert process.wait(timeout=10) == 0, log_path.read_text()
    deadline = time.monotonic() + 5
    while (_is_listening(port) or _is_listening(emulator_port)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not _is_listening(port)
    assert not _is_listening(emulator_port)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)


def test_embedded_launcher_stopped_during_start_up_exits_clean(launcher):
    process, _, emulator_port, log_path = launcher
    _wait(
        lambda: "Applying database migrations" in log_path.read_text(),
        30,
        "the launcher to start migrating",
        process,
        log_path,
    )

    os.killpg(process.pid, signal.SIGTERM)

    assert process.wait(timeout=10) == 0, log_path.read_text()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    assert not _is_listening(emulator_port), log_path.read_text()


def test_embedded_launcher_with_live_stripe_key_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_DECIDES}
    env.update(
        STRIPE_SECRET_KEY="sk_live_not_a_real_key",
        PORT=str(_free_ports(1)[0]),
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
    )

    result = subprocess.run(
        [sys.executable, "-m", "coaching.embedded"],
        cwd=settings.BASE_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert "STRIPE_SECRET_KEY is a live key" in result.stdout
    assert not (tmp_path / "db.sqlite3").exists()


def test_embedded_launcher_with_port_taken_fails_with_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_DECIDES}
        env.update(PORT=str(port), SQLITE_PATH=str(tmp_path / "db.sqlite3"))

        result = subprocess.run(
            [sys.executable, "-m", "coaching.embedded"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stdout
