"""Settings for every run mode, driven by environment variables only.

The embedded default (no ``DATABASE_URL``, no ``REDIS_URL``) is SQLite, an
in-memory channel layer, a local-memory cache and inline tasks. Production sets
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` and turns ``DEBUG`` off; nothing
else differs. See the configuration table in README.md.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (a long random "
            "string), or set DEBUG=1 for local development."
        )
    # Generated once per checkout into .embedded/secret_key (git-ignored): a
    # key in the source would make every checkout's JWTs valid on all others.
    from coaching.embedded import development_secret_key

    SECRET_KEY = development_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "dj_rest_auth",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "accounts",
    "bookings",
    "payments",
]

MIDDLEWARE = [
    "coaching.correlation.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "coaching.middleware.ContentSecurityPolicyMiddleware",
    "coaching.cache_control.PrivateNoStoreMiddleware",
    # Last, so its process_exception sees a view's database outage first.
    "coaching.availability.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "coaching.urls"
WSGI_APPLICATION = "coaching.wsgi.application"
ASGI_APPLICATION = "coaching.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL")
# psycopg's pool inside each process (Django 5.1+). Under ASGI every request
# runs in a thread of its own, so persistent connections (DB_CONN_MAX_AGE)
# pile up; the pool hands connections across threads instead (bench/README.md
# measures it against a connection per request).
DB_POOL = env_bool("DB_POOL")
if DATABASE_URL:
    _database = dj_database_url.parse(
        DATABASE_URL, conn_max_age=0 if DB_POOL else env_int("DB_CONN_MAX_AGE", 0)
    )
    if DB_POOL:
        _database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 10),
            # Seconds a request waits for a free connection before failing.
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
else:
    _database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("SQLITE_PATH") or BASE_DIR / "db.sqlite3",
    }
if _database["ENGINE"].endswith("sqlite3"):
    # However SQLite is chosen (SQLITE_PATH or DATABASE_URL=sqlite:///...):
    # the server, its background work and Stripe's webhooks write concurrently,
    # so take the write lock at BEGIN and wait for it instead of failing with
    # "database is locked" mid-transaction. A wait that still times out is
    # answered 503 + Retry-After (coaching/availability.py).
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": float(env("SQLITE_TIMEOUT_SECONDS", "20")),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **_database.get("OPTIONS", {}),
    }
elif _database["ENGINE"].endswith("postgresql"):
    # An unreachable host must fail fast (then 503), not after TCP's minutes.
    _database.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5)
    )
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker -----------------------------

REDIS_URL = env("REDIS_URL")
# Every Redis client gives up after this long, connecting or waiting for an
# answer: a frozen Redis then costs a request about this much, not a hang.
REDIS_TIMEOUT_SECONDS = float(env("REDIS_TIMEOUT_SECONDS", "1"))


def redis_cache(url: str, *, timeout: float) -> dict:
    """The cache on Redis: it holds only throttle and lockout counters, so it
    fails open (coaching/cache.py): unreachable, it acts as an empty cache."""
    return {
        "BACKEND": "coaching.cache.FailOpenRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "coaching",
        "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
    }


# "pubsub" (the default): a group message is published once and each process
# fans it out to its sockets in memory; "core": one Redis list push per socket.
# At 1,000 sockets pubsub's p99 was under 100 ms, core's was not (README,
# Performance).
CHANNEL_LAYER = env("CHANNEL_LAYER", "pubsub")


def redis_channel_layer(url: str, *, timeout: float, kind: str = "") -> dict:
    """channels-redis with bounded connects and sends (coaching/channels.py);
    ``kind`` is ``CHANNEL_LAYER`` unless given."""
    if (kind or CHANNEL_LAYER) == "pubsub":
        return {
            "BACKEND": "coaching.channels.BoundedRedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": url, "socket_connect_timeout": timeout}],
                "prefix": "coaching",
                "send_timeout": timeout,
            },
        }
    return {
        "BACKEND": "coaching.channels.BoundedRedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": url,
                    # No socket_timeout: a consumer's receive blocks in
                    # BZPOPMIN, and with a read timeout redis-py's asyncio
                    # client hung cancelled receives (tests/payments/
                    # test_consumers.py). Sends are bounded by send_timeout.
                    "socket_connect_timeout": timeout,
                }
            ],
            "prefix": "coaching",
            "send_timeout": timeout,
        },
    }


if REDIS_URL:
    CACHES = {"default": redis_cache(REDIS_URL, timeout=REDIS_TIMEOUT_SECONDS)}
    CHANNEL_LAYERS = {
        "default": redis_channel_layer(REDIS_URL, timeout=REDIS_TIMEOUT_SECONDS)
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The baseline views of bench/hotpaths.py (coaching/baselines.py): 404 unless on.
BENCH_BASELINES = env_bool("BENCH_BASELINES")

CELERY_BROKER_URL = REDIS_URL or "memory://"
# No task's result is ever read: no result backend. And the (disabled) backend
# object is shared by the threads of a process: by default Celery builds one
# per thread, reading package metadata from disk each time, and under ASGI
# every request runs in a new thread (44 % of the webhook ingest's time; see
# README, Performance).
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_RESULT_BACKEND_THREAD_SAFE = True
# Priorities on the Redis broker: the worker takes the lowest number first
# (kombu's Redis transport, steps 0/3/6/9). Webhook processing is 0
# (payments.tasks), everything else this, so a live payment status never
# waits behind a backlog of emails in the same queue.
CELERY_TASK_DEFAULT_PRIORITY = 6
# Celery's Django fix-up closes every database connection (and the DB_POOL
# pool) around every task unless this is set; then only every 2 x this many
# tasks, and coaching/celery.py closes what Django would close after a request
# (broken, or older than its maximum age) around each task instead.
CELERY_DB_REUSE_MAX = 1000
# A worker process runs one task at a time, so unlike the web server's
# threads it can keep its connection: its maximum age in seconds (without
# DB_POOL; 0 = a new connection per task).
WORKER_DB_CONN_MAX_AGE = env_int("WORKER_DB_CONN_MAX_AGE", 300)
# Without a broker, tasks run in-process; callers enqueue them on commit.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Enqueueing happens on commit inside web requests: a down or frozen Redis must
# cost about REDIS_TIMEOUT_SECONDS there, not kombu's defaults (4 s connect,
# no read timeout, three publish retries). A task that could not be enqueued
# is not lost: its webhook event stays pending and retry_failed_webhooks
# applies it a minute later.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    # A message a killed worker took (acks_late) goes back to the queue after
    # this, not Redis' default hour. It must exceed the longest countdown a
    # task is retried with (send_notification: 10 min) or that message would
    # run twice. A killed worker's webhook event does not wait for it:
    # retry_failed_webhooks applies it once its processing lease runs out
    # (about a minute, payments/services/events.py).
    "visibility_timeout": 900,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TIMEZONE = "UTC"

# --- Auth -------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        # Our user has no first/last name: compare with what it has.
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins per (email, client address) before a lockout, and its length.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JwtCookieOrSessionAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["coaching.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "coaching.pagination.EnvelopePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "coaching.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "dj_rest_auth": env("THROTTLE_AUTH", "30/min"),
        "payments": env("THROTTLE_PAYMENTS", "30/min"),
        "bookings": env("THROTTLE_BOOKINGS", "60/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key on REMOTE_ADDR, never on a client-supplied X-Forwarded-For;
    # behind a proxy the ASGI server rewrites REMOTE_ADDR (--proxy-headers).
    "NUM_PROXIES": 0,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

REST_AUTH = {
    "USE_JWT": True,
    "TOKEN_MODEL": None,
    "SESSION_LOGIN": True,
    "JWT_AUTH_COOKIE": "coaching-access",
    "JWT_AUTH_REFRESH_COOKIE": "coaching-refresh",
    "JWT_AUTH_REFRESH_COOKIE_PATH": "/api/auth/",
    "JWT_AUTH_HTTPONLY": True,
    "JWT_AUTH_SECURE": not DEBUG,
    "JWT_AUTH_SAMESITE": "Lax",
    "JWT_AUTH_COOKIE_USE_CSRF": True,
    "JWT_AUTH_RETURN_EXPIRATION": True,
    "LOGIN_SERIALIZER": "accounts.api.LoginInputSerializer",
    "USER_DETAILS_SERIALIZER": "accounts.api.UserOutputSerializer",
    "JWT_SERIALIZER": "accounts.api.JwtOutputSerializer",
    "JWT_SERIALIZER_WITH_EXPIRATION": "accounts.api.JwtOutputSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Coaching payments API",
    "DESCRIPTION": (
        "Bookings, card payments, refunds and saved cards of the coaching "
        "platform. Money in request bodies is in major units (`100` = CHF 100.00); "
        "Stripe objects keep Stripe's minor units. Every body carries `success`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "accounts.models.User.Role",
        "BookingStatusEnum": "bookings.models.Booking.Status",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "RefundStatusEnum": "payments.models.Refund.Status",
        "RefundReasonEnum": "payments.models.Refund.Reason",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Security ---------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Stripe -----------------------------------------------------------------

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
# Unset: real Stripe. Set (e.g. http://127.0.0.1:8420): the localstripe emulator.
STRIPE_API_BASE = env("STRIPE_API_BASE")
# Empty: the version the installed SDK is pinned to (stripe.api_version).
STRIPE_API_VERSION = env("STRIPE_API_VERSION")
STRIPE_TIMEOUT_SECONDS = float(env("STRIPE_TIMEOUT_SECONDS", "10"))
STRIPE_MAX_RETRIES = env_int("STRIPE_MAX_RETRIES", 3)
if not DEBUG and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set when DEBUG is off."
    )
# The Stripe.js origin allowed by the Content-Security-Policy.
STRIPE_JS_URL = env(
    "STRIPE_JS_URL",
    f"{STRIPE_API_BASE}/js.stripe.com/v3/"
    if STRIPE_API_BASE
    else "https://js.stripe.com/v3/",
)

# --- Operations -------------------------------------------------------------

# /metrics answers a request with "Authorization: Bearer <METRICS_TOKEN>" (and
# staff sessions); unset, only staff.
METRICS_TOKEN = env("METRICS_TOKEN")

# --- Domain -----------------------------------------------------------------

# The platform's name on receipts and emails.
PLATFORM_NAME = env("PLATFORM_NAME", "Coaching")

PAYMENT_HOLD_MINUTES = env_int("PAYMENT_HOLD_MINUTES", 30)
# Unpaid holds one client may have at once, with all coaches together: without
# a cap one client can block a coach's calendar with holds (slot hoarding).
MAX_OPEN_HOLDS = env_int("MAX_OPEN_HOLDS", 3)
BOOKING_MAX_DAYS_AHEAD = env_int("BOOKING_MAX_DAYS_AHEAD", 90)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
# Payments in a pre-charge state untouched this long are re-read from Stripe.
RECONCILE_AFTER_MINUTES = env_int("RECONCILE_AFTER_MINUTES", 5)

# --- Coach money (README "Coach balances") ------------------------------------

# A coach's share stays pending this long after the session was completed (the
# window in which most disputes arrive), then becomes available for payout.
EARNINGS_HOLD_HOURS = env_int("EARNINGS_HOLD_HOURS", 48)
# Stripe's fee for a lost dispute, in minor units, when the event does not
# carry its balance transactions.
STRIPE_DISPUTE_FEE = env_int("STRIPE_DISPUTE_FEE", 1500)
# The seller on the platform-fee invoices to coaches.
PLATFORM_LEGAL_NAME = env("PLATFORM_LEGAL_NAME", "Coaching Platform AG")
PLATFORM_ADDRESS = env("PLATFORM_ADDRESS", "Bahnhofstrasse 1\n8001 Zürich\nSwitzerland")
PLATFORM_VAT_NUMBER = env("PLATFORM_VAT_NUMBER", "CHE-123.456.789 MWST")
# VAT on the platform fee, in percent ("8.1"), kept as hundredths of a percent.
PLATFORM_VAT_RATE_BPS = int(
    (Decimal(env("PLATFORM_VAT_RATE", "8.1")) * 100).to_integral_value()
)

# --- Email ------------------------------------------------------------------

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", "Coaching payments <payments@example.com>"
)

# --- i18n, static -------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "coaching.correlation.CorrelationIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s cid=%(correlation_id)s %(message)s"
        },
        "json": {"()": "coaching.correlation.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env("LOG_FORMAT") == "json" else "plain",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print every line a second time.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}
