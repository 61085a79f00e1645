"""DEBUG runs (``make run``) sign with a key of their own checkout, never a
key from the source."""

import os
import stat
import subprocess
import sys
import threading

from django.conf import settings

from coaching import embedded

OLD_FIXED_KEY = "django-insecure-local-development-only"


def test_development_secret_key_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / ".embedded" / "secret_key"

    first = embedded.development_secret_key(path)

    assert len(first) >= 50
    assert first != OLD_FIXED_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert embedded.development_secret_key(path) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_development_secret_key_differs_per_checkout(tmp_path):
    one = embedded.development_secret_key(tmp_path / "a" / "secret_key")
    other = embedded.development_secret_key(tmp_path / "b" / "secret_key")

    assert one != other


def test_development_secret_key_concurrent_starts_agree(tmp_path):
    path = tmp_path / ".embedded" / "secret_key"
    keys: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: keys.append(embedded.development_secret_key(path))
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 8 and len(set(keys)) == 1


def test_launcher_without_secret_key_uses_the_checkouts_key(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "SECRET_KEY_FILE", tmp_path / "secret_key")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")  # no emulator set-up

    embedded._configure_environment(8420)

    assert os.environ["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


def test_launcher_keeps_a_secret_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "SECRET_KEY_FILE", tmp_path / "secret_key")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "x" * 40)
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")

    embedded._configure_environment(8420)

    assert os.environ["SECRET_KEY"] == "from-the-environment-" + "x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_file_is_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", ".embedded/secret_key"],
        cwd=settings.BASE_DIR,
        check=False,
    )

    assert result.returncode == 0


def test_debug_settings_without_secret_key_use_the_checkouts_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="coaching.settings")

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    key = result.stdout.strip()
    assert key != OLD_FIXED_KEY
    assert key == embedded.development_secret_key()
