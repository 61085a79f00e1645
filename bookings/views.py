"""Pages of the bookings app. Thin: a selector, a template."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bookings import selectors


def coach_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "bookings/home.html", {"coaches": selectors.coach_list_public()}
    )
