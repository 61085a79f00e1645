"""How tasks are enqueued: what it costs a request, and in which order the
worker takes them.

Every ASGI request runs its view in a new thread. Celery used to build a
result backend for every thread that enqueued (reading the installed
packages' metadata from disk each time): nearly half of the webhook ingest's
time. And webhook processing shares the queue with notification emails: by
priority it is taken first, so a live payment status never waits behind a
backlog of emails.
"""

import threading
import uuid

import pytest
from django.conf import settings

from coaching.celery import app as celery_app
from coaching.scrape import _queue_length
from payments.tasks import process_webhook_event, send_notification


def test_threads_share_one_result_backend_built_once():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(celery_app.backend))
    thread.start()
    thread.join()

    assert seen == [celery_app.backend]
    # No task result is read anywhere: none is stored.
    assert celery_app.conf.task_ignore_result is True
    assert type(celery_app.backend).__name__ == "DisabledBackend"


@pytest.mark.redis
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs a Redis broker")
def test_webhook_processing_is_taken_before_emails_queued_earlier(settings):
    queue = f"test-priority-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    try:
        for _ in range(3):
            send_notification.delay(str(uuid.uuid4()))
        process_webhook_event.delay(42)

        # The metric counts every priority's list of the queue.
        assert _queue_length() == 4
        with celery_app.connection_for_read() as broker:
            channel = broker.default_channel
            taken = [channel.basic_get(queue, no_ack=True) for _ in range(4)]
        assert [m.headers["task"] for m in taken] == [
            "payments.tasks.process_webhook_event",
            *["payments.tasks.send_notification"] * 3,
        ]
        assert taken[0].headers["argsrepr"] == "(42,)"
    finally:
        with celery_app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)
