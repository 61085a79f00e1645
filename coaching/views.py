"""Project-wide views: liveness, readiness, metrics and error pages that know
the API."""

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from coaching import availability, readiness
from coaching.api_errors import api_not_found, api_server_error


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests. Touches no dependency, so an
    outage of the database or Redis never gets healthy processes restarted."""
    return JsonResponse({"success": True, "status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: each dependency's status; 503 when a required one is down."""
    checks = readiness.check_all()
    ready = all(c["status"] == "ok" for c in checks.values() if c["required"])
    return JsonResponse(
        {
            "success": ready,
            "status": "ok" if ready else "unavailable",
            "checks": checks,
        },
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this handler while handling the exception, wherever it was
    # raised (a middleware too, where process_exception never sees it).
    unavailable = availability.response_for(request, sys.exc_info()[1])
    if unavailable is not None:
        return unavailable
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return defaults.server_error(request)
