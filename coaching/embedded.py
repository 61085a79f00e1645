"""Run the whole product on one machine: ``make run`` (``python -m coaching.embedded``).

Embedded mode (DESIGN.md, "Run modes"): DEBUG on, SQLite unless ``DATABASE_URL``
is set, the in-memory channel layer unless ``REDIS_URL`` is set, and Stripe
played by a private localstripe on loopback with a webhook registered to this
app. With ``STRIPE_SECRET_KEY`` set, real Stripe (test mode) is used instead and
no emulator is started.

The launcher needs no terminal input. It sets the environment *before* Django's
settings load, migrates, loads the demo data, and serves the ASGI app with
daphne (``runserver --noreload``) in this very process. Ctrl-C or SIGTERM to
its process group, or to this process alone, stops everything it started and
exits 0; the emulator also dies with this process if it is killed outright
(``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_EMULATOR_PORT = 8420
EMULATOR_SECRET_KEY = "sk_test_localstripe"
EMULATOR_PUBLISHABLE_KEY = "pk_test_localstripe"
WEBHOOK_PATH = "/api/payments/webhook"
DEMO_PASSWORD = "coaching-demo"
DEMO_LOGINS = [
    ("client@example.com", "client"),
    ("client2@example.com", "client"),
    ("coach@example.com", "coach"),
    ("coach2@example.com", "coach"),
    ("admin@example.com", "admin (Django admin at /admin/)"),
]
PR_SET_PDEATHSIG = 1


SECRET_KEY_FILE = BASE_DIR / ".embedded" / "secret_key"


def development_secret_key(path: Path | None = None) -> str:
    """This checkout's own SECRET_KEY for DEBUG runs, made on first use.

    A key in the source would sign every development checkout's sessions and
    JWTs alike: a token from one would be valid on all. The file is
    git-ignored (``/.embedded/``) and readable by its owner only. Creation is
    atomic (written aside, then linked into place), so two processes starting
    together agree on one key.
    """
    path = path or SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process won: use its key
    except OSError:
        os.replace(draft, path)  # no hard links on this file system
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text().strip()


class LauncherError(Exception):
    """A start-up problem the user can fix; printed without a traceback."""


def _say(message: str = "") -> None:
    print(message, flush=True)


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _port_from_env(name: str, default: int) -> int:
    value = _env(name)
    if not value:
        return default
    try:
        port = int(value)
    except ValueError:
        raise LauncherError(f"{name}={value!r} is not a port number.") from None
    if not 0 < port < 65536:
        raise LauncherError(f"{name}={port} is not a port number.")
    return port


def _ensure_port_free(port: int, name: str) -> None:
    with socket.socket() as sock:
        # As the servers do: connections in TIME_WAIT must not count as in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise LauncherError(
                f"{HOST}:{port} is already in use ({exc.strerror}). Stop what "
                f"listens there or choose another port, e.g. {name}={port + 1}."
            ) from None


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM the child when the launcher dies (preexec_fn)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # The parent may have died between fork and prctl: nobody would signal us.
    if os.getppid() != parent_pid:
        os._exit(1)


def _start_emulator(port: int) -> subprocess.Popen:
    preexec = None
    if sys.platform.startswith("linux"):
        parent_pid = os.getpid()

        def preexec() -> None:
            _die_with_parent(parent_pid)

    return subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
        [
            sys.executable,
            "-m",
            "coaching.localstripe_server",
            "--host",
            HOST,
            "--port",
            str(port),
        ],
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,  # safe: no other thread exists yet
    )


def _loopback_request(
    url: str, *, data: bytes | None = None, headers: dict | None = None, timeout=1.0
) -> int:
    """Send one request to a server of ours on loopback; return its status."""
    if not url.startswith(f"http://{HOST}:"):
        raise ValueError(f"not a loopback URL: {url}")
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.status


def _wait_for_emulator(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_stop()
        if process.poll() is not None:
            raise LauncherError(
                f"The Stripe emulator exited with code {process.returncode}."
            )
        try:
            _loopback_request(
                f"{url}/v1/customers?limit=1",
                headers={"Authorization": f"Bearer {EMULATOR_SECRET_KEY}"},
            )
            return
        except OSError:
            time.sleep(0.1)
    raise LauncherError(f"The Stripe emulator did not answer at {url} in {timeout}s.")


def _register_webhook(emulator_url: str, app_url: str, secret: str) -> str:
    webhook_url = f"{app_url}{WEBHOOK_PATH}"
    body = urllib.parse.urlencode({"url": webhook_url, "secret": secret}).encode()
    try:
        _loopback_request(
            f"{emulator_url}/_config/webhooks/coaching", data=body, timeout=5
        )
    except OSError as exc:
        raise LauncherError(f"Could not register the webhook: {exc}") from None
    return webhook_url


def _stop_process(process: subprocess.Popen | None, timeout: float = 5) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# Set by SIGINT/SIGTERM. The handler also raises KeyboardInterrupt to cut a
# long step short, but Python drops an exception raised while a finalizer runs
# ("Exception ignored in: <finalize object>"), so every step also checks this.
_stop_requested = threading.Event()


def _on_stop_signal(signum, frame) -> None:
    _stop_requested.set()
    raise KeyboardInterrupt


def _check_stop() -> None:
    if _stop_requested.is_set():
        raise KeyboardInterrupt


def _print_banner_when_up(app_url: str, notes: list[str], seeded: bool) -> None:
    """Wait in a thread until the server answers, then say how to use it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _loopback_request(f"{app_url}/healthz")
            break
        except OSError:
            time.sleep(0.2)
    else:
        return
    lines = ["", "=" * 72, f"Coaching payments is running at {app_url}/", ""]
    if seeded:
        lines.append(f"Demo logins (password: {DEMO_PASSWORD}):")
        lines += [f"  {email:<22} {role}" for email, role in DEMO_LOGINS]
    else:
        lines.append("No demo data was loaded (the seed_demo command is missing).")
    lines += ["", *notes, "Stop with Ctrl-C.", "=" * 72, ""]
    _say("\n".join(lines))


def _configure_environment(emulator_port: int) -> dict:
    """Decide the run mode and set os.environ before Django's settings load."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")
    if not _env("DEBUG"):
        os.environ["DEBUG"] = "1"
    if not _env("SECRET_KEY"):
        os.environ["SECRET_KEY"] = development_secret_key()
    real_stripe = bool(_env("STRIPE_SECRET_KEY"))
    webhook_secret = _env("STRIPE_WEBHOOK_SECRET")
    if not real_stripe:
        if not webhook_secret:
            webhook_secret = "whsec_" + secrets.token_urlsafe(24)
        os.environ["STRIPE_API_BASE"] = f"http://{HOST}:{emulator_port}"
        os.environ["STRIPE_SECRET_KEY"] = EMULATOR_SECRET_KEY
        os.environ["STRIPE_PUBLISHABLE_KEY"] = EMULATOR_PUBLISHABLE_KEY
        os.environ["STRIPE_WEBHOOK_SECRET"] = webhook_secret
    return {"real_stripe": real_stripe, "webhook_secret": webhook_secret}


def _describe_services() -> list[str]:
    notes = []
    if _env("DATABASE_URL"):
        notes.append("Database: DATABASE_URL.")
    else:
        path = _env("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3")
        notes.append(f"Database: SQLite at {path}.")
    if _env("REDIS_URL"):
        notes.append(
            "Redis: REDIS_URL (channel layer, cache, Celery broker). Background "
            "tasks go to Celery: start `celery -A coaching worker --beat` too."
        )
    else:
        notes.append(
            "Channel layer and cache: in memory; tasks run inline, periodic "
            "jobs in a background thread."
        )
    return notes


def _migrate_and_seed() -> bool:
    import django
    from django.core.management import call_command, get_commands

    django.setup()
    _say("Applying database migrations...")
    call_command("migrate", interactive=False, verbosity=1)
    _check_stop()
    if "seed_demo" not in get_commands():
        _say("WARNING: no seed_demo command yet; starting without demo data.")
        return False
    _say("Loading demo data (seed_demo)...")
    call_command("seed_demo")
    return True


def _serve(port: int) -> None:
    """Serve with daphne's runserver in this process until a stop signal."""
    import daphne.server  # noqa: F401 - installs Twisted's asyncio reactor
    from django.core.management import call_command
    from twisted.internet import error, reactor

    def stop_reactor() -> None:
        with contextlib.suppress(error.ReactorNotRunning):
            reactor.stop()

    def on_stop_signal(signum, frame) -> None:
        _stop_requested.set()
        reactor.callFromThread(stop_reactor)

    def take_over_signals() -> None:
        # Our handlers, not KeyboardInterrupt, from here on: the reactor stops
        # cleanly and returns from runserver. A signal that came before this
        # point only set the flag.
        signal.signal(signal.SIGINT, on_stop_signal)
        signal.signal(signal.SIGTERM, on_stop_signal)
        if _stop_requested.is_set():
            stop_reactor()

    reactor.callWhenRunning(take_over_signals)
    # --noreload keeps the server in this process.
    call_command("runserver", f"{HOST}:{port}", use_reloader=False)


def _start_periodic_jobs():
    """Without REDIS_URL there is no Celery beat: run the periodic tasks in a
    thread of this process, handing each run to daphne's event loop so the
    broadcasts it makes reach the in-memory channel layer."""
    if _env("REDIS_URL"):
        return None
    from daphne.server import twisted_loop

    from payments.periodic import start_periodic_thread

    return start_periodic_thread(loop=twisted_loop)


def run() -> int:
    """Start the emulator, prepare the database and serve until stopped."""
    # Installed even when SIGINT came ignored (a background job of a
    # non-interactive shell): Ctrl-C must stop us.
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    emulator: subprocess.Popen | None = None
    periodic = None
    try:
        port = _port_from_env("PORT", DEFAULT_PORT)
        emulator_port = _port_from_env("STRIPE_EMULATOR_PORT", DEFAULT_EMULATOR_PORT)
        mode = _configure_environment(emulator_port)
        app_url = f"http://{HOST}:{port}"
        _ensure_port_free(port, "PORT")
        notes = _describe_services()

        if mode["real_stripe"]:
            if "_live_" in _env("STRIPE_SECRET_KEY"):
                raise LauncherError(
                    "STRIPE_SECRET_KEY is a live key. `make run` is a development "
                    "server with DEBUG on: use your test-mode key (sk_test_...)."
                )
            notes.append(
                "Stripe: real Stripe (test mode) with your STRIPE_SECRET_KEY. No "
                "webhooks reach this machine by themselves: forward them, e.g. "
                f"`stripe listen --forward-to {app_url}{WEBHOOK_PATH}`, and set "
                "STRIPE_WEBHOOK_SECRET to the secret it prints."
            )
            if not _env("STRIPE_PUBLISHABLE_KEY"):
                notes.append(
                    "WARNING: STRIPE_PUBLISHABLE_KEY is not set: card forms "
                    "cannot load Stripe.js."
                )
        else:
            _ensure_port_free(emulator_port, "STRIPE_EMULATOR_PORT")
            emulator_url = os.environ["STRIPE_API_BASE"]
            _say(f"Starting the Stripe emulator (localstripe) at {emulator_url} ...")
            emulator = _start_emulator(emulator_port)
            _wait_for_emulator(emulator_url, emulator, timeout=30)
            _check_stop()
            webhook_url = _register_webhook(
                emulator_url, app_url, mode["webhook_secret"]
            )
            _say(f"Webhook registered with the emulator: {webhook_url}")
            notes.append(
                f"Stripe: localstripe emulator at {emulator_url} (test card "
                "4242 4242 4242 4242, any future expiry, any CVC)."
            )

        _check_stop()
        seeded = _migrate_and_seed()
        _check_stop()
        periodic = _start_periodic_jobs()
        _check_stop()
        threading.Thread(
            target=_print_banner_when_up,
            args=(app_url, notes, seeded),
            name="banner",
            daemon=True,
        ).start()
        _serve(port)
    except KeyboardInterrupt:
        pass
    except LauncherError as exc:
        _say(f"ERROR: {exc}")
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave an orphan.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if periodic is not None:
            periodic.stop(timeout=10)
        _stop_process(emulator)
    _say("Stopped.")
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
