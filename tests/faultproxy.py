"""Faults between the app and Stripe, for tests: a TCP proxy and a killable emulator.

``FaultProxy`` listens on a free loopback port in front of localstripe. It
reads each HTTP request, records it (method, path, headers, body) and then,
by the rule that matches it, either forwards it or fails it:

- ``pass``: forward to the upstream and relay the answer;
- ``drop``: read the request, then close the connection without an answer;
- ``hang``: read the request and never answer (the client's timeout fires);
  Stripe never sees the request;
- ``hang_after``: forward the request (Stripe acts on it), then never answer:
  the "timeout, but did it go through?" case;
- ``drop_after``: forward the request (Stripe acts on it), then close the
  connection without an answer: a dropped answer to a request that was done;
- ``http500`` / ``http429``: answer with that status and a Stripe-like JSON
  error body; Stripe never sees the request.

``proxy.mode`` is what every request gets by default; ``proxy.fail(mode,
times=n, path=..., method=...)`` fails the next ``n`` matching requests (or all
of them with ``times=None``) before the default applies again.

``LocalStripe`` is a private in-memory localstripe process that a test may
kill and start again on the same port (an emulator outage).

The ``fault_proxy`` fixture starts a proxy in front of the session's
localstripe, points ``STRIPE_API_BASE`` at it, and makes the gateway's timeout
and retries small, all for one test (pytest-django's ``settings`` restores
them). A test module takes it with ``fault_proxy = faultproxy.fault_proxy``.
"""

import contextlib
import json
import select
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

MODES = frozenset(
    {"pass", "drop", "hang", "hang_after", "drop_after", "http500", "http429"}
)

# Small, so that faults cost a test about a second, not a minute.
TIMEOUT_SECONDS = 0.5
MAX_RETRIES = 2

_MAX_HEAD_BYTES = 64 * 1024
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class SeenRequest:
    """One HTTP request as the proxy received it, and what it did with it."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    action: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def idempotency_key(self) -> str | None:
        return self.header("Idempotency-Key")


@dataclass
class _Rule:
    mode: str
    remaining: int | None  # None: for ever
    path: str  # substring of the path; "" matches every path
    method: str  # "" matches every method

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or self.method == method) and self.path in path


class FaultProxy:
    """An HTTP/1.1 proxy that fails requests on command (see the module doc)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.mode = "pass"
        self._rules: list[_Rule] = []
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(
        self, mode: str, *, times: int | None = None, path: str = "", method: str = ""
    ) -> None:
        """Treat the next ``times`` requests matching ``path``/``method`` with ``mode``."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for ever)")
        with self._lock:
            self._rules.append(_Rule(mode, times, path, method.upper()))

    def fail_next(self, count: int, mode: str = "http500", **match: str) -> None:
        """Fail the next ``count`` (matching) requests, then go back to the default."""
        self.fail(mode, times=count, **match)

    def heal(self) -> None:
        """Forget every rule and pass everything from now on."""
        with self._lock:
            self._rules.clear()
            self.mode = "pass"

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def requests_to(self, path: str, method: str = "") -> list[SeenRequest]:
        """Requests whose path contains ``path`` (and with ``method``, if given)."""
        method = method.upper()
        return [
            r
            for r in self.requests
            if path in r.path and (not method or r.method == method)
        ]

    def clear(self) -> None:
        """Forget the requests seen so far (the rules stay)."""
        with self._lock:
            self._seen.clear()

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> "FaultProxy":
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="fault-proxy",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # hung connections let go
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- one connection -----------------------------------------------------------

    def _decide(self, method: str, path: str) -> str:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule.mode
            return self.mode

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(30)
        buffer = b""
        try:
            while not self._stopping.is_set():
                parsed = _read_request(client, buffer)
                if parsed is None:
                    return
                head, body, buffer = parsed
                method, target, headers = _parse_head(head)
                path, _, query = target.partition("?")
                action = self._decide(method, path)
                with self._lock:
                    self._seen.append(
                        SeenRequest(method, path, query, headers, body, action)
                    )
                if action == "drop":
                    return
                if action == "hang":
                    self._hold(client)
                    return
                if action in ("http500", "http429"):
                    client.sendall(_error_response(int(action[4:])))
                    return
                answer = self._forward(head, body)
                if action == "hang_after":
                    self._hold(client)
                    return
                if action == "drop_after":
                    return
                client.sendall(answer)
                return  # the answer says "Connection: close"
        except OSError:
            return
        finally:
            _close(client)

    def _forward(self, head: bytes, body: bytes) -> bytes:
        """Send one request upstream on a fresh connection; return the raw answer."""
        target = urlsplit(self.upstream)
        lines = head.split(b"\r\n")
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        request = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""]) + body
        try:
            with socket.create_connection(
                (target.hostname, target.port), timeout=30
            ) as upstream:
                upstream.sendall(request)
                chunks = []
                while chunk := upstream.recv(65536):
                    chunks.append(chunk)
        except OSError:
            # The upstream is down: answer the way a dead host would, by closing.
            return b""
        return b"".join(chunks)

    def _hold(self, client: socket.socket) -> None:
        """Keep the connection open, silent, until the client gives up or we stop."""
        while not self._stopping.is_set():
            readable, _, _ = select.select([client], [], [], _POLL_SECONDS)
            if readable:
                try:
                    if not client.recv(65536):
                        return  # the client timed out and closed
                except OSError:
                    return


def _read_request(
    sock: socket.socket, buffer: bytes
) -> tuple[bytes, bytes, bytes] | None:
    """Read one request (head, body, rest of the buffer); None at end of stream."""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEAD_BYTES:
            return None
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    _method, _target, headers = _parse_head(head)
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head, rest[:length], rest[length:]


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method.upper(), target, headers


def _error_response(status: int) -> bytes:
    reason, kind, message = {
        500: ("Internal Server Error", "api_error", "Injected server error."),
        429: ("Too Many Requests", "invalid_request_error", "Injected rate limit."),
    }[status]
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Request-Id: req_faultproxy\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


# --- An emulator a test can kill ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    """A private, in-memory localstripe on loopback that a test starts and kills.

    It keeps its port across restarts (so settings pointing at it stay right)
    and, being in memory, comes back empty.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> "LocalStripe":
        from django.conf import settings

        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coaching.localstripe_server",
                "--port",
                str(self.port),
            ],
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = urllib.request.Request(
            f"{self.url}/v1/customers", headers={"Authorization": "Bearer sk_test_x"}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"localstripe exited with {self._process.returncode}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"localstripe did not answer at {self.url}")

    def kill(self) -> None:
        """Stop it at once, as a crash would (SIGKILL)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


# --- Fixture --------------------------------------------------------------------------


@pytest.fixture
def fault_proxy(localstripe_url, settings):
    """A FaultProxy in front of the session's localstripe, used by the gateway.

    The gateway's per-call timeout is TIMEOUT_SECONDS and it retries
    MAX_RETRIES times; a test may change ``settings.STRIPE_MAX_RETRIES``.
    """
    with FaultProxy(localstripe_url) as proxy:
        settings.STRIPE_API_BASE = proxy.url
        settings.STRIPE_TIMEOUT_SECONDS = TIMEOUT_SECONDS
        settings.STRIPE_MAX_RETRIES = MAX_RETRIES
        yield proxy
