"""The payment's audit timeline on its admin page."""

from django import template

from payments import selectors
from payments.models import Payment

register = template.Library()


@register.inclusion_tag("admin/payments/payment/_timeline.html")
def payment_timeline(payment: Payment) -> dict:
    """Render ``selectors.payment_timeline`` for one payment, oldest first."""
    return {"entries": selectors.payment_timeline(payment=payment)}
