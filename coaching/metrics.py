"""Process-side Prometheus metrics (served at ``/metrics``, coaching/views.py).

Counters and histograms here count what one process did (Stripe calls, cache
and database outages, open WebSockets). Several processes (granian workers,
the Celery worker) each count their own: with ``PROMETHEUS_MULTIPROC_DIR`` set
to a directory shared by the processes of one host (and emptied when they all
start), prometheus-client's multiprocess mode adds them up at scrape time;
without it a scrape sees the answering process only. Business state (payments
by status, declines, webhook backlog and lag, reconciliation fixes) is read
from the database at scrape time instead (coaching/scrape.py), so it is the
same whichever process answers.
"""

from prometheus_client import Counter, Gauge, Histogram

CACHE_ERRORS = Counter(
    "coaching_cache_errors",
    "Cache (Redis) operations that failed and were answered as a miss (fail open).",
    ["operation"],
)
DEPENDENCY_UNAVAILABLE = Counter(
    "coaching_dependency_unavailable",
    "Requests answered 503 because a dependency was unreachable.",
    ["dependency"],
)
STRIPE_CALLS = Counter(
    "coaching_stripe_calls",
    "Stripe API calls by operation and outcome (ok, declined, error, unavailable).",
    ["operation", "outcome"],
)
STRIPE_RETRIES = Counter(
    "coaching_stripe_retries",
    "Stripe API attempts retried after a network error, 429 or 5xx.",
    ["operation"],
)
STRIPE_SECONDS = Histogram(
    "coaching_stripe_call_seconds",
    "Duration of a Stripe API call, retries and backoff included.",
    ["operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
WEBSOCKETS_OPEN = Gauge(
    "coaching_websockets_open",
    "WebSocket connections open on /ws/payments/.",
    multiprocess_mode="livesum",
)
