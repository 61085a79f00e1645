"""503 instead of 500 when the database is unreachable or locked.

PostgreSQL down (connection refused, terminated), a pooler refusing, or SQLite
busy past its timeout ("database is locked") surface as Django's
``OperationalError`` / ``InterfaceError``. They say nothing about the request,
only that it cannot be served right now: the answer is 503 with
``Retry-After``, in the API's error envelope (``service_unavailable``) or as a
small HTML page, logged and counted (``coaching_dependency_unavailable_total``).

``DatabaseUnavailableMiddleware.process_exception`` catches what views raise
(DRF's handler passes non-API exceptions on to it); ``server_error`` (the 500
handler) uses ``response_for`` for what other middleware raised, e.g. the
session save after the view.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from coaching import metrics
from coaching.api_errors import error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_ERRORS = (OperationalError, InterfaceError)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(
        "/api/"
    ) or "application/json" in request.headers.get("Accept", "")


def unavailable_response(request: HttpRequest, *, dependency: str) -> HttpResponse:
    """503 + Retry-After: the envelope for API clients, a small page for people."""
    metrics.DEPENDENCY_UNAVAILABLE.labels(dependency=dependency).inc()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if wants_json(request):
        body = error_body(
            "service_unavailable",
            _("The service is temporarily unavailable. Try again shortly."),
            {"retryAfter": RETRY_AFTER_SECONDS},
        )
        return JsonResponse(body, status=503, headers=headers)
    # No request in the context: the page must not touch the user or session.
    return HttpResponse(render_to_string("503.html"), status=503, headers=headers)


def response_for(
    request: HttpRequest, exc: BaseException | None
) -> HttpResponse | None:
    """The 503 answer if ``exc`` is a database outage, else None."""
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    logger.error(
        "database.unavailable path=%s error=%s: %s",
        request.path,
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
    )
    return unavailable_response(request, dependency="database")


class DatabaseUnavailableMiddleware:
    """Answer 503 + Retry-After when a view fails on an unreachable database."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return response_for(request, exception)
