"""Audit records the other services write: refund transitions and staff actions.

Both are append-only and written inside the caller's transaction, so a change
and its record commit or roll back together.
"""

from typing import Any

from payments.models import Payment, Refund, RefundTransition, StaffAction


def refund_record_transition(
    *,
    refund: Refund,
    from_status: str,
    cause: str,
    actor=None,
    stripe_event_id: str = "",
) -> RefundTransition:
    """Record that ``refund`` moved from ``from_status`` to its current status.

    ``from_status`` is ``""`` for a refund just created. The caller holds the
    refund's row (or has just created it) inside ``transaction.atomic``.
    """
    return RefundTransition.objects.create(
        refund=refund,
        from_status=from_status,
        to_status=refund.status,
        cause=cause[:64],
        actor=actor,
        stripe_event_id=stripe_event_id,
    )


def is_staff_actor(actor) -> bool:
    """Whether ``actor`` acts as staff (an admin), so the act is a staff action."""
    return bool(actor is not None and getattr(actor, "is_admin", False))


def staff_action_record(
    *,
    actor,
    action: str,
    payment: Payment | None = None,
    booking=None,
    webhook_event=None,
    details: dict[str, Any] | None = None,
) -> StaffAction:
    """Record what a staff member (``actor``; None for a command) did, to what."""
    return StaffAction.objects.create(
        actor=actor,
        action=action,
        payment=payment,
        booking=booking if booking is not None else getattr(payment, "booking", None),
        webhook_event=webhook_event,
        details=details or {},
    )
