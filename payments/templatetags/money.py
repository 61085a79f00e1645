"""Template filters for money and rates; the only place pages format amounts.

``{% load money %}`` then ``{{ offering.price_amount|money:offering.currency }}``
-> ``CHF 100.00``, and ``{{ profile.vat_rate_bps|percent_bps }}`` -> ``8.1 %``.
"""

from django import template

from money.amounts import MoneyError, format_money
from money.pricing import bps_to_percent

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    """Format minor units with every decimal and the code: ``CHF 1,234.50``.

    An empty amount or an unknown currency renders as an empty string rather
    than breaking the page.
    """
    if minor is None or minor == "":
        return ""
    try:
        return format_money(int(minor), currency)
    except (MoneyError, TypeError, ValueError):
        return ""


@register.filter
def percent_bps(bps: int | None) -> str:
    """Format a rate in basis points as a percentage: ``810`` -> ``8.1 %``."""
    if bps is None or bps == "":
        return ""
    return f"{bps_to_percent(int(bps))} %"
