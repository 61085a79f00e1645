"""Background work of the bookings app."""

from celery import shared_task

from bookings import services


@shared_task(name="bookings.expire_overdue_holds")
def expire_overdue_holds() -> int:
    """Release unpaid holds past their ``expires_at``; return how many.

    Periodic (every minute is plenty). Creating a booking already releases
    stale holds on its own slot; this frees the rest for listings and pages.
    """
    return services.booking_expire_overdue(actor=None)
