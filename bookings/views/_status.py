"""The status of each booking a list page shows, as the payments app tells it.

A list of bookings shows each one's live payment status (the fragment of
``payments.views``). Bookings never imports payments: the payments app
registers the function that builds those rows (``on_status_rows``) when it
starts, and without it a row holds just its booking.
"""

from collections.abc import Callable, Iterable

from bookings.models import Booking

StatusRows = Callable[[Iterable[Booking]], list[dict]]


def _bare_rows(bookings: Iterable[Booking]) -> list[dict]:
    return [
        {"booking": b, "payment": None, "pending_refund": 0, "final": True}
        for b in bookings
    ]


_hook: list[StatusRows] = [_bare_rows]


def on_status_rows(builder: StatusRows) -> None:
    """Build list rows with ``builder(bookings)``: one dict per booking, in
    order, with at least ``booking`` (the payments app registers its
    ``payment_status_contexts``)."""
    _hook[0] = builder


def status_rows(bookings: Iterable[Booking]) -> list[dict]:
    """The rows of ``bookings`` for a list page, each with its live status."""
    return _hook[0](bookings)
