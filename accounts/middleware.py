"""Times on every page are in the viewer's zone."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.zones import is_zone, user_zone_name

# A visitor's chosen zone (coach page ``?tz=``), kept in their session.
VISITOR_TZ_KEY = "viewer_tz"


class TimeZoneMiddleware:
    """Activate the logged-in user's zone (their account setting), or the zone a
    visitor picked, for the whole request: templates' ``date`` filter, forms
    and the ``when`` filter then render in it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(request_zone_name(request))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def request_zone_name(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user_zone_name(user)
    session = getattr(request, "session", None)
    picked = session.get(VISITOR_TZ_KEY) if session is not None else None
    return picked if is_zone(picked) else user_zone_name(None)
