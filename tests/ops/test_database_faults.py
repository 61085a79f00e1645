"""The database unreachable or locked (issue 13, defects 5 and 8).

PostgreSQL stopped answered 500 on every endpoint; SQLite chosen through
``DATABASE_URL=sqlite:///...`` lost its tuning and answered 500 "database is
locked". Now: 503 + Retry-After with the error envelope (API) or a small page
(pages), ``/healthz`` stays up (liveness), ``/readyz`` names the dependency
that is down, and the product heals when the database is back. Each test runs
the production web command (granian) on a database of its own.
"""

import json
import sqlite3
import time
import urllib.error
import urllib.request

import pytest

from tests.ops.conftest import free_port, manage, product_env, web_command
from tests.processes import LoggedProcess
from tests.test_settings import _run

START_TIMEOUT = 60.0
REGISTRATION = {
    "email": "new@example.com",
    "password": "violet-kettle-harbour-42",
    "name": "New Person",
    "role": "client",
}


def _get(url: str, *, method: str = "GET", body: dict | None = None, accept=None):
    """(status, headers, body text) of one request; errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def _serve(tmp_path, env: dict) -> tuple[LoggedProcess, str]:
    port = free_port()
    server = LoggedProcess(
        "granian", web_command(port, workers=1), env, tmp_path / "granian.log"
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return _get(f"{url}/healthz")[0] == 200
        except OSError:
            return False

    server.wait_for(up, "answering /healthz", timeout=START_TIMEOUT)
    return server, url


def _assert_unavailable_envelope(status, headers, text):
    assert status == 503, text
    assert int(headers["Retry-After"]) > 0
    body = json.loads(text)
    assert body["success"] is False
    assert body["error"]["code"] == "service_unavailable"


def test_settings_sqlite_database_url_keeps_the_sqlite_tuning(tmp_path):
    dump = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    busy = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
print(json.dumps({"options": settings.DATABASES["default"]["OPTIONS"],
                  "journal_mode": mode, "busy_timeout": busy}))
"""
    for variables in (
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'url.sqlite3'}"},
        {"SQLITE_PATH": str(tmp_path / "path.sqlite3")},
    ):
        result = _run(["-c", dump], DEBUG="1", **variables)
        assert result.returncode == 0, result.stderr
        dumped = json.loads(result.stdout.strip().splitlines()[-1])
        assert dumped["options"]["transaction_mode"] == "IMMEDIATE", variables
        assert dumped["journal_mode"] == "wal", variables
        assert dumped["busy_timeout"] == 20000, variables


def test_sqlite_locked_past_timeout_answers_503_with_retry_after(tmp_path):
    path = tmp_path / "db.sqlite3"
    env = product_env(DATABASE_URL=f"sqlite:///{path}", SQLITE_TIMEOUT_SECONDS="0.5")
    manage("migrate", "--noinput", env=env)
    server, url = _serve(tmp_path, env)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        answer = _get(
            f"{url}/api/auth/registration/",
            method="POST",
            body=REGISTRATION,
        )
        _assert_unavailable_envelope(*answer)
        holder.execute("ROLLBACK")
        # The lock is gone: the same request goes through.
        status, _, text = _get(
            f"{url}/api/auth/registration/",
            method="POST",
            body=REGISTRATION,
        )
        assert status == 202, text  # sign-up answers "check your email"
    finally:
        holder.close()
        server.stop()
    assert "database is locked" in server.output()  # logged, with its cause


@pytest.mark.postgres
def test_postgres_stopped_answers_503_everywhere_and_heals(tmp_path, private_postgres):
    env = product_env(DATABASE_URL=private_postgres.url, DB_CONNECT_TIMEOUT="2")
    manage("migrate", "--noinput", env=env)
    server, url = _serve(tmp_path, env)
    try:
        status, _, text = _get(f"{url}/readyz")
        assert status == 200, text
        assert json.loads(text)["checks"]["database"]["status"] == "ok"

        private_postgres.stop()

        _assert_unavailable_envelope(*_get(f"{url}/api/coaches/"))
        _assert_unavailable_envelope(
            *_get(
                f"{url}/api/auth/login/",
                method="POST",
                body={"email": "a@example.com", "password": "x"},
            )
        )
        status, headers, text = _get(f"{url}/", accept="text/html")
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert "text/html" in headers["Content-Type"]
        assert "try again" in text.lower()
        assert _get(f"{url}/healthz")[0] == 200  # liveness: the process is fine
        status, _, text = _get(f"{url}/readyz")
        assert status == 503
        assert json.loads(text)["checks"]["database"]["status"] == "unavailable"

        private_postgres.start()

        deadline = time.monotonic() + START_TIMEOUT
        while _get(f"{url}/readyz")[0] != 200:
            assert time.monotonic() < deadline, "not ready after the database"
            time.sleep(0.2)
        status, _, text = _get(f"{url}/api/coaches/")
        assert status == 200, text
    finally:
        server.stop()
    assert "database.unavailable" in server.output()
