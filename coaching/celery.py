"""Celery application: Redis broker when REDIS_URL is set, inline otherwise.

Production runs, next to the ASGI servers (same environment variables):

    celery -A coaching worker --loglevel=INFO
    celery -A coaching beat --loglevel=INFO --schedule=/var/lib/coaching/celerybeat-schedule

Beat enqueues the tasks of ``payments.tasks.PERIODIC`` at their intervals;
run exactly one beat. Without REDIS_URL there is no beat: the embedded
server runs the same tasks in a background thread (payments/periodic.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")

app = Celery("coaching")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
