"""Pages of the bookings app. Thin: a selector, a template."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from bookings import selectors
from payments.views import payment_status_context


def coach_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "bookings/home.html", {"coaches": selectors.coach_list_public()}
    )


@login_required
def booking_detail(request: HttpRequest, booking_id) -> HttpResponse:
    """A booking for its client, its coach and admins; a 404 for anyone else.

    Its payment status is the live fragment of ``payments.views``.
    """
    booking = selectors.booking_get_for_user(user=request.user, booking_id=booking_id)
    if booking is None:
        raise Http404
    return render(
        request,
        "bookings/detail.html",
        {**payment_status_context(booking), "booking": booking},
    )
