"""Environment for the test run, loaded by pytest before Django's settings.

Tests run with DEBUG off, like production; only values that production must
provide are given harmless stand-ins here. Anything already set in the
environment (CI's DATABASE_URL and REDIS_URL) wins.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else")
os.environ.setdefault("STRIPE_SECRET_KEY", "sk_test_localstripe")
os.environ.setdefault("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe")
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_test_secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
