"""Selectors of the coach earnings and the staff dashboard, with exact numbers.

Earnings come from the ledger: a paid CHF 100.00 session (VAT 8.1 % included,
15 % platform fee) books gross 100.00, fee 15.00, VAT 7.49 and 85.00 for the
coach; a CHF 30.00 refund reverses fee and VAT in proportion (4.50 and 2.25).
"""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from bookings import services as booking_services
from payments import selectors, services
from payments.models import LedgerEntry, Payment, Refund, WebhookEvent
from tests import factories
from tests.payments.conftest import next_slot
from tests.payments.stripe_side import store_dead_event, unknown_intent_event

pytestmark = pytest.mark.django_db

ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")


@pytest.fixture
def pay(make_card):
    def pay_for(booking) -> Payment:
        payment, _ = services.payment_create_intent(
            booking=booking, actor=booking.client
        )
        payment, _ = services.payment_confirm(
            payment=payment, payment_method_id=make_card(), actor=booking.client
        )
        assert payment.status == Payment.Status.SUCCEEDED
        return payment

    return pay_for


def figures(row) -> tuple[int, int, int, int, int, int]:
    return (
        row.charges,
        row.gross,
        row.refunds,
        row.platform_fees,
        row.vat,
        row.coach_net,
    )


def move_entries(payment, when: dt.datetime, **filters) -> None:
    """Date the payment's ledger entries (``created_at`` is set on insert)."""
    LedgerEntry.objects.filter(payment=payment, **filters).update(created_at=when)


# --- earnings -------------------------------------------------------------------------


def test_earnings_of_one_paid_booking(coach, booking, pay):
    pay(booking)

    total = selectors.earnings_total_for_coach(coach=coach, currency="CHF")

    assert figures(total) == (1, 10000, 0, 1500, 749, 8500)
    assert total.currency == "CHF"


def test_earnings_after_a_partial_refund_follow_the_ledger(coach, booking, pay):
    payment = pay(booking)
    services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )

    total = selectors.earnings_total_for_coach(coach=coach, currency="CHF")

    # Fee back: 3000 * 1500 / 10000 = 450; VAT back: 3000 * 749 / 10000 = 224.7 -> 225.
    assert figures(total) == (1, 10000, 3000, 1050, 524, 5950)
    assert total.gross - total.refunds == total.platform_fees + total.coach_net


def test_earnings_after_a_full_refund_are_zero_but_gross(coach, booking, pay):
    payment = pay(booking)
    services.payment_refund(
        payment=payment, amount=None, reason="requested_by_customer", actor=coach
    )
    total = selectors.earnings_total_for_coach(coach=coach, currency="CHF")
    assert figures(total) == (1, 10000, 10000, 0, 0, 0)


def test_earnings_without_entries_are_zeros(coach):
    total = selectors.earnings_total_for_coach(coach=coach, currency="chf")
    assert figures(total) == (0, 0, 0, 0, 0, 0)
    assert total.currency == "CHF"
    assert selectors.earnings_for_coach(coach=coach, currency="CHF") == []
    assert selectors.earnings_currencies_for_coach(coach=coach) == []


def test_earnings_count_a_refund_in_the_month_it_was_made(
    coach, booking, pay, make_booking
):
    payment = pay(booking)
    services.payment_refund(
        payment=payment, amount=3000, reason="requested_by_customer", actor=coach
    )
    move_entries(
        payment, dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC), refund__isnull=True
    )
    move_entries(
        payment, dt.datetime(2026, 2, 3, 12, tzinfo=dt.UTC), refund__isnull=False
    )

    months = selectors.earnings_by_month_for_coach(coach=coach, currency="CHF")

    assert [(row.month, figures(row)) for row in months] == [
        (dt.date(2026, 2, 1), (0, 0, 3000, -450, -225, -2550)),
        (dt.date(2026, 1, 1), (1, 10000, 0, 1500, 749, 8500)),
    ]


def test_earnings_months_are_the_coachs_months(coach, booking, pay):
    payment = pay(booking)
    # 23:30 UTC on 31 January is 00:30 on 1 February in Zurich.
    move_entries(payment, dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC))

    (row,) = selectors.earnings_by_month_for_coach(coach=coach, currency="CHF")

    assert row.month == dt.date(2026, 2, 1)


def test_earnings_per_month_and_offering(coach, booking, pay, make_booking):
    short = factories.OfferingFactory(
        coach=coach, title="Check-in", duration_minutes=30, price_amount=5500
    )
    first = pay(booking)
    second = pay(make_booking(off=short, days=4))
    third = pay(make_booking(off=short, days=5))
    move_entries(first, dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))
    move_entries(second, dt.datetime(2026, 3, 6, 9, tzinfo=dt.UTC))
    move_entries(third, dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC))

    rows = selectors.earnings_for_coach(coach=coach, currency="CHF")
    by_offering = selectors.earnings_by_offering_for_coach(coach=coach, currency="CHF")

    # 55.00: fee 8.25, VAT 4.12 (412.12 rounded), coach 46.75.
    assert [(r.month, r.offering_title, figures(r)) for r in rows] == [
        (dt.date(2026, 4, 1), "Check-in", (1, 5500, 0, 825, 412, 4675)),
        (dt.date(2026, 3, 1), "Check-in", (1, 5500, 0, 825, 412, 4675)),
        (dt.date(2026, 3, 1), "Coaching session", (1, 10000, 0, 1500, 749, 8500)),
    ]
    assert rows[0].offering_id == short.pk
    assert [(r.offering_title, r.month, figures(r)) for r in by_offering] == [
        ("Check-in", None, (2, 11000, 0, 1650, 824, 9350)),
        ("Coaching session", None, (1, 10000, 0, 1500, 749, 8500)),
    ]


def test_earnings_never_add_across_currencies(coach, booking, pay, client_user):
    pay(booking)
    euro_coach = factories.CoachFactory(profile__currency="EUR")
    euro = factories.OfferingFactory(coach=euro_coach, currency="EUR")
    euro_booking = booking_services.booking_create(
        client=client_user, offering=euro, starts_at=next_slot(), actor=client_user
    )
    euro_payment = pay(euro_booking)
    # The same coach paid in two currencies (their terms changed meanwhile).
    Payment.objects.filter(pk=euro_payment.pk).update(recipient=coach)

    assert selectors.earnings_currencies_for_coach(coach=coach) == ["CHF", "EUR"]
    chf = selectors.earnings_total_for_coach(coach=coach, currency="CHF")
    eur = selectors.earnings_total_for_coach(coach=coach, currency="EUR")
    assert figures(chf) == (1, 10000, 0, 1500, 749, 8500)
    assert figures(eur) == (1, 10000, 0, 1500, 749, 8500)
    rows = selectors.earnings_for_coach(coach=coach, currency="EUR")
    assert {row.currency for row in rows} == {"EUR"}


def test_earnings_are_only_the_coachs_own(coach, other_coach, booking, pay):
    pay(booking)
    assert figures(
        selectors.earnings_total_for_coach(coach=other_coach, currency="CHF")
    ) == (0, 0, 0, 0, 0, 0)
    assert selectors.earnings_currencies_for_coach(coach=other_coach) == []


def test_earnings_take_a_fixed_number_of_queries(
    coach, booking, pay, make_booking, django_assert_num_queries
):
    pay(booking)
    pay(make_booking(days=4))
    with django_assert_num_queries(2):  # the coach's time zone, then the sums
        selectors.earnings_for_coach(coach=coach, currency="CHF")


# --- staff dashboard ------------------------------------------------------------------


def test_payment_totals_by_status_count_and_sum_per_currency(
    booking, pay, make_booking, client_user
):
    pay(booking)
    open_one, _ = services.payment_create_intent(
        booking=make_booking(days=4), actor=client_user
    )
    services.payment_create_intent(booking=make_booking(days=5), actor=client_user)
    yesterday, _ = services.payment_create_intent(
        booking=make_booking(days=6), actor=client_user
    )
    start = timezone.now() - dt.timedelta(hours=1)
    Payment.objects.filter(pk=yesterday.pk).update(
        created_at=start - dt.timedelta(days=1)
    )

    rows = selectors.payment_totals_by_status(since=start)

    assert rows == [
        {
            "status": "requires_payment_method",
            "currency": "CHF",
            "count": 2,
            "amount": 20000,
            "received": 0,
            "refunded": 0,
        },
        {
            "status": "succeeded",
            "currency": "CHF",
            "count": 1,
            "amount": 10000,
            "received": 10000,
            "refunded": 0,
        },
    ]
    assert open_one.status == "requires_payment_method"


def test_payment_list_stuck_is_open_payments_untouched_for_a_while(
    booking, pay, make_booking, client_user
):
    paid = pay(booking)
    old_open, _ = services.payment_create_intent(
        booking=make_booking(days=4), actor=client_user
    )
    services.payment_create_intent(booking=make_booking(days=5), actor=client_user)
    long_ago = timezone.now() - dt.timedelta(minutes=20)
    Payment.objects.filter(pk__in=[paid.pk, old_open.pk]).update(updated_at=long_ago)

    stuck = selectors.payment_list_stuck(
        older_than=timezone.now() - dt.timedelta(minutes=15)
    )

    assert list(stuck) == [old_open]


def test_webhook_event_list_dead_and_retrying_count():
    dead = store_dead_event(unknown_intent_event("evt_dead"))
    failing = store_dead_event(unknown_intent_event("evt_failing"))
    WebhookEvent.objects.filter(pk=failing.pk).update(status=WebhookEvent.Status.FAILED)

    assert list(selectors.webhook_event_list_dead()) == [dead]
    assert selectors.webhook_event_count_retrying() == 1


def test_refund_list_pending_is_refunds_without_an_outcome(booking, pay, coach):
    payment = pay(booking)
    settled = services.payment_refund(
        payment=payment, amount=1000, reason="requested_by_customer", actor=coach
    )
    pending = Refund.objects.create(
        payment=payment, amount=500, currency="CHF", reason="duplicate"
    )

    assert settled.status == Refund.Status.SUCCEEDED
    assert list(selectors.refund_list_pending()) == [pending]
