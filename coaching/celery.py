"""Celery application: Redis broker when REDIS_URL is set, inline otherwise.

Production runs, next to the ASGI servers (same environment variables):

    celery -A coaching worker --loglevel=INFO
    celery -A coaching beat --loglevel=INFO --schedule=/var/lib/coaching/celerybeat-schedule

Beat enqueues the tasks of ``payments.tasks.PERIODIC`` at their intervals;
run exactly one beat. Without REDIS_URL there is no beat: the embedded
server runs the same tasks in a background thread (payments/periodic.py).
"""

import os

from celery import Celery, signals
from django.conf import settings
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")

app = Celery("coaching")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _keep_database_connections(**kwargs) -> None:
    """A worker keeps its database connection for ``WORKER_DB_CONN_MAX_AGE``
    seconds (the web server cannot: a request runs in a new thread each
    time). Set before the pool's processes are forked, so they inherit it. A
    pooled database (``DB_POOL``) keeps its pool instead."""
    for alias in connections:
        options = connections.settings[alias]
        if not options.get("OPTIONS", {}).get("pool"):
            options["CONN_MAX_AGE"] = settings.WORKER_DB_CONN_MAX_AGE


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: close a
    database connection that is broken, mid-transaction or past its maximum
    age, and keep the rest.

    Celery's Django fix-up would close every connection around every task
    (and, with ``DB_POOL``, the whole pool: three new PostgreSQL sessions per
    webhook event, measured); ``CELERY_DB_REUSE_MAX`` in the settings turns
    that into a rare recycle, and this keeps connections healthy meanwhile.
    A task run inline (no Redis) is part of a request, which does it already.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **kwargs) -> None:
    """Build the beat schedule from ``payments.tasks.PERIODIC``.

    After finalize, because the tasks import the models: Django is set up by
    then (beat finalizes the app after its loader set Django up).
    """
    from payments.tasks import PERIODIC

    for task, seconds in PERIODIC:
        sender.add_periodic_task(
            seconds,
            task.s(),
            name=task.name,
            # A run nobody picked up before the next one is due is dropped:
            # after a worker outage, one run each, not a backlog.
            expires=seconds,
        )
