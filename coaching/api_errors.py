"""One renderer for every API error: ``{"success": false, "error": {...}}``."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from coaching.errors import DomainError

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ValidationError: ("validation_error", _("The request is not valid.")),
    exceptions.ParseError: (
        "malformed_request",
        _("The request body is not valid JSON."),
    ),
    exceptions.NotAuthenticated: ("not_authenticated", _("Log in to do this.")),
    exceptions.AuthenticationFailed: (
        "authentication_failed",
        _("Your session is not valid. Log in again."),
    ),
    exceptions.PermissionDenied: ("forbidden", _("You may not do this.")),
    exceptions.NotFound: ("not_found", _("Not found.")),
    exceptions.MethodNotAllowed: ("method_not_allowed", _("Method not allowed.")),
    exceptions.NotAcceptable: ("not_acceptable", _("Cannot answer in that format.")),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type",
        _("Send the request body as application/json."),
    ),
    exceptions.Throttled: ("rate_limited", _("Too many requests. Try again later.")),
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
    }


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map domain and framework errors to the envelope."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.details),
            status=exc.http_status,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500 (handler500 below)

    set_rollback()
    code, message = _lookup(exc)
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.ValidationError):
        details = (
            {"fields": exc.detail}
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail}
        )
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        details = {"retryAfter": wait}
        headers["Retry-After"] = str(wait)
    elif isinstance(exc, exceptions.AuthenticationFailed):
        # simplejwt's details are nested dicts of ErrorDetail (str() of them is
        # a Python repr) in English only: say it in our words, and give the
        # machine-readable reason ("token_not_valid", "token_revoked", ...).
        details = {"reason": _reason(exc)}
    elif isinstance(exc, exceptions.PermissionDenied) and isinstance(exc.detail, str):
        # Keep DRF's specific reason (e.g. "CSRF Failed: ...") for the caller.
        message = str(exc.detail) or message
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    return Response(
        error_body(code, message, details), status=exc.status_code, headers=headers
    )


def _reason(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, dict):  # simplejwt's InvalidToken: {"code": ..., ...}
        codes = codes.get("code", exc.default_code)
    if isinstance(codes, list):
        codes = codes[0] if codes else exc.default_code
    return str(codes)


def _lookup(exc: exceptions.APIException) -> tuple[str, str]:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return exc.default_code, str(exc.detail)


def api_not_found(request, exception=None):
    return JsonResponse(
        error_body("not_found", _("Not found.")), status=status.HTTP_404_NOT_FOUND
    )


def api_server_error(request):
    return JsonResponse(
        error_body(
            "server_error", _("Something went wrong on our side. Try again later.")
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
