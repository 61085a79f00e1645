"""The cancel page shows who gives back what before the refund is confirmed,
and the ledger then books exactly that split."""

import pytest
from django.db.models import Sum
from django.urls import reverse

from bookings.models import Booking, RefundFeeRule
from payments import services
from payments.models import LedgerEntry
from tests.payments.test_views_client import pay

pytestmark = pytest.mark.django_db

STRIPE_JS = "https://js.stripe.test/v3/"


@pytest.fixture(autouse=True)
def stripe_js(settings):
    settings.STRIPE_JS_URL = STRIPE_JS
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_views"


@pytest.mark.parametrize(
    ("rule", "coach_part", "fee_part"),
    [
        (RefundFeeRule.PROPORTIONAL, "CHF 85.00", "CHF 15.00"),
        (RefundFeeRule.PLATFORM_KEEPS, "CHF 100.00", "CHF 0.00"),
    ],
)
def test_cancel_page_shows_the_split_the_ledger_then_books(
    client, client_user, booking, make_card, rule, coach_part, fee_part
):
    Booking.objects.filter(pk=booking.pk).update(refund_fee_rule=rule)
    payment = pay(booking, client_user, make_card)
    client.force_login(client_user)

    page = client.get(reverse("bookings:cancel", args=[booking.pk])).content.decode()

    assert (
        "From the coach&#x27;s earnings" in page or "From the coach's earnings" in page
    )
    split = page.split('class="refund-split"', 1)[1].split("</dl>", 1)[0]
    assert coach_part in split and fee_part in split
    booking.refresh_from_db()
    services.booking_cancel_with_refund(booking=booking, actor=client_user)
    sums = dict(
        LedgerEntry.objects.filter(payment=payment, refund__isnull=False)
        .values_list("kind")
        .annotate(t=Sum("amount"))
        .values_list("kind", "t")
    )
    expected = services.refund_split(payment=payment, amount=0)
    assert expected.rule == rule
    coach_minor = int(coach_part.split()[1].replace(".", ""))
    assert sums[LedgerEntry.Kind.COACH_EARNING_REVERSAL] == -coach_minor
    assert sums[LedgerEntry.Kind.PLATFORM_FEE_REVERSAL] == -(10000 - coach_minor)
