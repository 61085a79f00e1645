"""accounts.zones and the middleware: one way to write a time for a person,
in that person's zone."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.utils import timezone

from accounts.zones import format_when, is_zone, user_zone_name, zone_choices

pytestmark = pytest.mark.django_db

EIGHT_UTC = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)


def test_format_when_names_the_zone():
    assert (
        format_when(EIGHT_UTC, "Europe/Zurich")
        == "Tue 1 Dec 2026, 09:00 (Europe/Zurich)"
    )
    assert format_when(EIGHT_UTC, "America/New_York") == (
        "Tue 1 Dec 2026, 03:00 (America/New_York)"
    )
    assert (
        format_when(EIGHT_UTC, "Asia/Tokyo", with_zone=False) == "Tue 1 Dec 2026, 17:00"
    )
    assert format_when(None, "UTC") == ""


def test_when_filter_uses_the_active_zone_or_the_given_one():
    template = Template("{% load zones %}{{ t|when }} | {{ t|when:'Asia/Tokyo' }}")

    with timezone.override("America/New_York"):
        text = template.render(Context({"t": EIGHT_UTC}))

    assert text == (
        "Tue 1 Dec 2026, 03:00 (America/New_York) | Tue 1 Dec 2026, 17:00 (Asia/Tokyo)"
    )


def test_zone_names_are_validated_and_unknown_ones_fall_back(client_user):
    assert is_zone("Europe/Zurich") and not is_zone("Mars/Olympus_Mons")
    assert not is_zone("") and not is_zone(None)
    client_user.time_zone = "Nowhere/Land"
    assert user_zone_name(client_user) == "UTC"
    assert user_zone_name(None) == "UTC"
    assert zone_choices()[0] == "Europe/Zurich"


def test_middleware_activates_the_users_zone_or_a_visitors_pick(client_user):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory

    from accounts.middleware import TimeZoneMiddleware

    middleware = TimeZoneMiddleware(
        lambda request: HttpResponse(timezone.get_current_timezone_name())
    )
    client_user.time_zone = "Asia/Tokyo"
    request = RequestFactory().get("/")
    request.user, request.session = client_user, {}
    visitor = RequestFactory().get("/")
    visitor.user, visitor.session = AnonymousUser(), {"viewer_tz": "Europe/London"}
    stranger = RequestFactory().get("/")
    stranger.user, stranger.session = AnonymousUser(), {}

    assert middleware(request).content == b"Asia/Tokyo"
    assert middleware(visitor).content == b"Europe/London"
    assert middleware(stranger).content == b"UTC"
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after
