"""Settings are driven by the environment alone: start-up errors and backends.

Each case runs Django in a subprocess with a controlled environment, since
settings are read once per process.
"""

import json
import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = settings.BASE_DIR

# Every variable the settings module reads, so none leaks in from the test run.
SETTINGS_SOURCE = (BASE_DIR / "coaching" / "settings.py").read_text()
SETTINGS_VARIABLES = set(
    re.findall(r'env(?:_bool|_int|_list)?\(\s*"([A-Z_0-9]+)"', SETTINGS_SOURCE)
)

PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "payments.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_test_production_like",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_production_like",
    "STRIPE_WEBHOOK_SECRET": "whsec_production_like",
}

DUMP_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "name": str(s.DATABASES["default"]["NAME"]),
    "channel_layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": s.CACHES["default"]["BACKEND"],
    "cache_location": s.CACHES["default"].get("LOCATION", ""),
    "celery_broker": s.CELERY_BROKER_URL,
    "celery_eager": s.CELERY_TASK_ALWAYS_EAGER,
}))
"""


def _run(args: list[str], **variables: str) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES and name != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env["DJANGO_SETTINGS_MODULE"] = "coaching.settings"
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _setup(**variables: str) -> subprocess.CompletedProcess:
    return _run(["-c", "import django; django.setup()"], **variables)


def _dump(**variables: str) -> dict:
    result = _run(["-c", DUMP_SETTINGS], **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_without_secret_key_outside_debug_fail_naming_it():
    result = _setup()

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_settings_without_stripe_secret_outside_debug_fail_naming_it(missing):
    variables = {**PRODUCTION_ENV}
    del variables[missing]

    result = _setup(**variables)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_settings_in_debug_start_without_any_secret():
    result = _setup(DEBUG="1")

    assert result.returncode == 0, result.stderr


def test_check_deploy_with_production_environment_reports_no_issue():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_ENV,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_settings_with_database_and_redis_urls_select_postgres_and_redis():
    dumped = _dump(**PRODUCTION_ENV)

    assert dumped["debug"] is False
    assert dumped["engine"] == "django.db.backends.postgresql"
    assert dumped["name"] == "postgres"
    # channels-redis and Django's RedisCache, bounded and failing open.
    assert dumped["channel_layer"] == "coaching.channels.BoundedRedisPubSubChannelLayer"
    assert dumped["cache"] == "coaching.cache.FailOpenRedisCache"
    assert dumped["cache_location"] == PRODUCTION_ENV["REDIS_URL"]
    assert dumped["celery_broker"] == PRODUCTION_ENV["REDIS_URL"]
    assert dumped["celery_eager"] is False


def test_settings_without_urls_select_sqlite_and_in_memory_layers(tmp_path):
    database = tmp_path / "embedded.sqlite3"

    dumped = _dump(DEBUG="1", SQLITE_PATH=str(database))

    assert dumped["debug"] is True
    assert dumped["engine"] == "django.db.backends.sqlite3"
    assert dumped["name"] == str(database)
    assert dumped["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert dumped["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert dumped["celery_broker"] == "memory://"
    assert dumped["celery_eager"] is True


def test_readme_documents_every_environment_variable():
    readme = (BASE_DIR / "README.md").read_text()
    embedded = (BASE_DIR / "coaching" / "embedded.py").read_text()
    variables = SETTINGS_VARIABLES | set(re.findall(r'_env\("([A-Z_0-9]+)"', embedded))
    variables |= set(re.findall(r'_port_from_env\("([A-Z_0-9]+)"', embedded))

    documented = set(re.findall(r"^\| `([A-Z_0-9]+)` \|", readme, re.MULTILINE))

    assert len(SETTINGS_VARIABLES) > 20
    assert sorted(variables - documented) == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_leg_runs_on_postgresql_with_btree_gist():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
        assert cursor.fetchone() == (1,)


def test_settings_db_pool_is_opt_in_and_the_list_layer_can_be_chosen():
    script = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "d = s.DATABASES['default'];"
        "print(json.dumps([d.get('OPTIONS', {}).get('pool'), d['CONN_MAX_AGE'],"
        " s.CHANNEL_LAYERS['default']['BACKEND']]))"
    )

    def read(**variables):
        result = _run(["-c", script], **PRODUCTION_ENV, **variables)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert read() == [None, 0, "coaching.channels.BoundedRedisPubSubChannelLayer"]
    pool, max_age, layer = read(
        DB_POOL="1", DB_POOL_MAX_SIZE="7", DB_CONN_MAX_AGE="60", CHANNEL_LAYER="core"
    )
    # A pool and persistent connections exclude each other in Django.
    assert (pool, max_age) == ({"min_size": 2, "max_size": 7, "timeout": 10}, 0)
    assert layer == "coaching.channels.BoundedRedisChannelLayer"
