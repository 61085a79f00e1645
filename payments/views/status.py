"""The payment-status fragment that live pages refresh.

Pages that show a booking's payment include
``templates/payments/partials/_payment_status.html`` with the context of
``payment_status_context``; ``static/js/payment-status.js`` keeps every such
fragment current (WebSocket first, polling while the socket is down).
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bookings.models import Booking
from payments import selectors
from payments.models import FINAL, Refund
from payments.views._auth import login_required

# Booking statuses that still move by themselves: a hold expires, a
# confirmed session is cancelled, refunded or completed.
_BOOKING_LIVE = frozenset({Booking.Status.PENDING_PAYMENT, Booking.Status.CONFIRMED})


def payment_status_context(booking: Booking) -> dict:
    """What the fragment shows for ``booking`` (its visibility already checked).

    ``final`` tells live pages to stop polling: it is true only when nothing
    about this booking's money can change any more, by anyone. That is when
    the booking is past its live states (neither awaiting payment nor
    confirmed) and its payment, if any, has ended (failed, canceled, refunded
    in full) with no refund pending. A paid booking is never final, even
    cancelled or completed: the coach or an admin may still refund it, a
    dispute may come, and a late payment on a released hold is refunded by
    itself.
    """
    payment = selectors.payment_current_for_booking(booking_id=booking.pk)
    pending_refund = 0
    if payment is not None:
        pending_refund = sum(
            payment.refunds.filter(status=Refund.Status.PENDING).values_list(
                "amount", flat=True
            )
        )
    final = (
        booking.status not in _BOOKING_LIVE
        and (payment is None or payment.status in FINAL)
        and not pending_refund
    )
    return {
        "booking": booking,
        "payment": payment,
        "pending_refund": pending_refund,
        "final": final,
    }


@require_GET
@login_required
@never_cache
def payment_status_fragment(request: HttpRequest, booking_id) -> HttpResponse:
    """The fragment alone, for the booking's payer, its coach and admins.

    Anyone else gets a 404, as for a booking that does not exist.
    """
    booking = selectors.booking_get_for_payment_status(
        user=request.user, booking_id=booking_id
    )
    if booking is None:
        raise Http404
    return render(
        request,
        "payments/partials/_payment_status.html",
        payment_status_context(booking),
    )
