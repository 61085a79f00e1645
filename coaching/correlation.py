"""A correlation id that follows one piece of work through logs and tasks.

HTTP requests take it from ``X-Request-ID`` (or get a fresh one) and echo it
back; Celery tasks carry it in their headers, so a webhook's processing in a
worker logs under the id of the request that stored it.
"""

import contextvars
import json
import logging
import re
import uuid

from celery import signals

_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default="-"
)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "X-Request-ID"


def get() -> str:
    return _current.get()


def set_id(value: str | None) -> contextvars.Token:
    """Use ``value`` (when it is a sane id) or a fresh one for this context."""
    return _current.set(value if value and _VALID.match(value) else uuid.uuid4().hex)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_id(request.headers.get(HEADER))
        try:
            response = self.get_response(request)
            response[HEADER] = get()
            return response
        finally:
            reset(token)


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers (LOG_FORMAT=json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


@signals.before_task_publish.connect
def _stamp_task(headers=None, **_kwargs) -> None:
    if headers is not None:
        headers.setdefault("correlation_id", get())


@signals.task_prerun.connect
def _adopt_task_id(task=None, **_kwargs) -> None:
    value = getattr(task.request, "correlation_id", None) if task else None
    if value:
        set_id(value)
