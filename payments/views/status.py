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

from accounts.decorators import login_required
from bookings import selectors as booking_selectors
from bookings.models import Booking
from payments import selectors
from payments.models import FINAL

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
    return payment_status_contexts([booking])[0]


def payment_status_contexts(bookings) -> list[dict]:
    """``payment_status_context`` of each booking, in order, in two queries
    whatever their number (list pages show one fragment per row)."""
    bookings = list(bookings)
    payments = selectors.payment_current_for_bookings(
        booking_ids=[booking.pk for booking in bookings]
    )
    pending = selectors.refund_pending_totals(
        payment_ids=[payment.pk for payment in payments.values()]
    )
    contexts = []
    for booking in bookings:
        payment = payments.get(booking.pk)
        pending_refund = pending.get(payment.pk, 0) if payment else 0
        final = (
            booking.status not in _BOOKING_LIVE
            and (payment is None or payment.status in FINAL)
            and not pending_refund
        )
        contexts.append(
            {
                "booking": booking,
                "payment": payment,
                "pending_refund": pending_refund,
                "final": final,
            }
        )
    return contexts


@require_GET
@login_required
@never_cache
def payment_status_fragment(request: HttpRequest, booking_id) -> HttpResponse:
    """The fragment alone, for the booking's payer, its coach and admins.

    Anyone else gets a 404, as for a booking that does not exist.
    """
    booking = booking_selectors.booking_get_for_user(
        user=request.user, booking_id=booking_id
    )
    if booking is None:
        raise Http404
    return render(
        request,
        "payments/partials/_payment_status.html",
        payment_status_context(booking),
    )
