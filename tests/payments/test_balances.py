"""Coach balances from the ledger: maturity, refunds and disputes, payouts.

Payments here are recorded without Stripe (``payments.services.offline``):
what is under test is the ledger and the balances, which never call Stripe;
disputes arrive through the real webhook handlers.
"""

import datetime as dt
import time
import uuid

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bookings import services as booking_services
from bookings.models import Booking, BookingTransition, CoachProfile, RefundFeeRule
from payments.exceptions import PayoutExceedsAvailable, PayoutInvalid
from payments.gateway import WebhookEventData
from payments.models import LedgerEntry, Payment
from payments.services import balances, offline, payouts
from payments.services.events import HANDLERS
from tests import factories

pytestmark = pytest.mark.django_db

K = LedgerEntry.Kind
HOLD = dt.timedelta(hours=48)


def later(hours: float = 49) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


def make_coach(rule: str = RefundFeeRule.PROPORTIONAL, price: int = 10000):
    coach = factories.CoachFactory()
    CoachProfile.objects.filter(user=coach).update(refund_fee_rule=rule)
    coach.refresh_from_db()
    offering = factories.OfferingFactory(coach=coach, price_amount=price)
    return coach, offering


def pay(offering, *, client=None, days_ago: int = 3) -> Payment:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=days_ago)
    # Two hours apart per coach: a coach's sessions never overlap (PostgreSQL
    # enforces it with an exclusion constraint).
    start = start.replace(minute=0, second=0) + dt.timedelta(
        hours=2 * Payment.objects.filter(recipient=offering.coach).count()
    )
    payment = offline.booking_paid_offline(
        client=client or factories.ClientFactory(),
        offering=offering,
        starts_at=start,
        paid_at=timezone.now(),
    )
    Payment.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id=f"pi_test_{uuid.uuid4().hex[:16]}"
    )
    payment.refresh_from_db()
    return payment


def complete(payment: Payment) -> None:
    booking_services.booking_complete(
        booking=payment.booking, actor=None, cause="session_ended"
    )


def dispute(payment: Payment, status: str, *, amount: int | None = None) -> None:
    obj = {
        "id": f"dp_{payment.pk.hex[:12]}",
        "object": "dispute",
        "payment_intent": payment.stripe_payment_intent_id,
        "amount": amount if amount is not None else payment.amount_refundable,
        "status": status,
    }
    for type_ in ("charge.dispute.created", "charge.dispute.closed"):
        HANDLERS[type_](
            WebhookEventData(
                id=f"evt_{uuid.uuid4().hex[:20]}",
                type=type_,
                created=int(time.time()),
                livemode=False,
                payload={"data": {"object": obj}},
            )
        )


def kind_sum(payment: Payment, *kinds) -> int:
    return (
        LedgerEntry.objects.filter(payment=payment, kind__in=kinds).aggregate(
            t=Sum("amount")
        )["t"]
        or 0
    )


# --- maturity ---------------------------------------------------------------------


def test_earning_is_pending_until_a_hold_after_completion_then_available(settings):
    settings.EARNINGS_HOLD_HOURS = 48
    coach, offering = make_coach()
    payment = pay(offering)
    assert balances.coach_balances(coach=coach, currency="CHF") == balances.Balances(
        currency="CHF", pending=8500, available=0, paid_out=0
    )
    # Not completed: nothing matures, however late.
    assert balances.earnings_mature_due(now=later(1000)) == 0
    complete(payment)
    assert balances.earnings_mature_due(now=later(47)) == 0
    assert balances.earnings_mature_due(now=later(49)) == 1
    # A re-run is a no-op.
    assert balances.earnings_mature_due(now=later(49)) == 0
    assert balances.earning_mature(payment=payment, now=later(49)) is False
    assert LedgerEntry.objects.filter(kind=K.EARNING_MATURED).count() == 1
    assert balances.coach_balances(coach=coach, currency="CHF") == balances.Balances(
        currency="CHF", pending=0, available=8500, paid_out=0
    )


def test_refund_before_maturity_lowers_pending_after_it_adjusts_available():
    coach, offering = make_coach()
    early, late = pay(offering), pay(offering)
    offline.refund_offline(payment=early, amount=4000, at=timezone.now())
    # 15 % of 4000 goes back from the platform's fee, 3400 from the coach.
    assert (
        balances.coach_balances(coach=coach, currency="CHF").pending == 2 * 8500 - 3400
    )
    for payment in (early, late):
        complete(payment)
    balances.earnings_mature_due(now=later())
    offline.refund_offline(payment=late, amount=2000, at=timezone.now())
    got = balances.coach_balances(coach=coach, currency="CHF")
    assert (got.pending, got.available) == (0, 8500 - 3400 + 8500 - 1700)
    adjustment = LedgerEntry.objects.get(kind=K.ADJUSTMENT)
    assert (adjustment.payment_id, adjustment.amount) == (late.pk, -1700)


def test_platform_keeps_rule_puts_the_whole_refund_on_the_coach():
    coach, offering = make_coach(RefundFeeRule.PLATFORM_KEEPS)
    payment = pay(offering)
    split = balances.refund_split(payment=payment, amount=10000)
    assert (split.platform_fee, split.coach, split.vat) == (0, 10000, 749)
    offline.refund_offline(payment=payment, amount=10000, at=timezone.now())
    assert kind_sum(payment, K.PLATFORM_FEE, K.PLATFORM_FEE_REVERSAL) == 1500
    assert kind_sum(payment, *LedgerEntry.COACH) == -1500
    assert balances.coach_balances(coach=coach, currency="CHF").pending == -1500


def test_refund_fee_rule_is_a_snapshot_of_booking_time():
    coach, offering = make_coach(RefundFeeRule.PROPORTIONAL)
    payment = pay(offering)
    CoachProfile.objects.filter(user=coach).update(
        refund_fee_rule=RefundFeeRule.PLATFORM_KEEPS
    )
    split = balances.refund_split(payment=payment, amount=10000)
    assert (split.rule, split.platform_fee, split.coach) == ("proportional", 1500, 8500)


# --- disputes ---------------------------------------------------------------------


def test_lost_dispute_books_chargeback_and_fee_shared_per_rule(settings):
    settings.STRIPE_DISPUTE_FEE = 1500
    coach, offering = make_coach()
    payment = pay(offering)
    dispute(payment, "lost")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.DISPUTED
    assert kind_sum(payment, K.CHARGEBACK) == -10000
    assert kind_sum(payment, K.DISPUTE_FEE) == -1500
    # Proportional: the platform bears 15 % of chargeback plus fee.
    assert kind_sum(payment, K.PLATFORM_CHARGEBACK, K.PLATFORM_DISPUTE_FEE) == -1725
    assert kind_sum(payment, K.COACH_CHARGEBACK, K.COACH_DISPUTE_FEE) == -9775
    cash = kind_sum(payment, *LedgerEntry.CASH)
    assert cash == -1500
    assert cash == kind_sum(payment, *LedgerEntry.PLATFORM, *LedgerEntry.COACH)
    assert balances.coach_balances(coach=coach, currency="CHF").pending == -1275
    # Replaying the closing event books nothing twice.
    dispute(payment, "lost")
    assert kind_sum(payment, K.CHARGEBACK) == -10000


def test_won_dispute_moves_no_money():
    coach, offering = make_coach()
    payment = pay(offering)
    dispute(payment, "won")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert not LedgerEntry.objects.filter(kind=K.CHARGEBACK).exists()
    assert balances.coach_balances(coach=coach, currency="CHF").pending == 8500


def test_lost_dispute_after_maturity_is_an_adjustment_against_available():
    coach, offering = make_coach(RefundFeeRule.PLATFORM_KEEPS)
    payment = pay(offering)
    complete(payment)
    balances.earnings_mature_due(now=later())
    dispute(payment, "lost")
    got = balances.coach_balances(coach=coach, currency="CHF")
    # The coach bears 10000 + 1500 on 8500 available: below zero.
    assert (got.pending, got.available) == (0, 8500 - 11500)


# --- payouts ----------------------------------------------------------------------


def test_payout_takes_from_available_and_never_more(admin_user):
    coach, offering = make_coach()
    payment = pay(offering)
    with pytest.raises(PayoutExceedsAvailable):
        payouts.payout_record(
            coach=coach,
            amount=1,
            currency="CHF",
            bank_reference="X",
            paid_on=dt.date.today(),
            actor=admin_user,
        )
    complete(payment)
    balances.earnings_mature_due(now=later())
    with pytest.raises(PayoutInvalid):
        payouts.payout_record(
            coach=coach,
            amount=0,
            currency="CHF",
            bank_reference="X",
            paid_on=dt.date.today(),
            actor=admin_user,
        )
    payouts.payout_record(
        coach=coach,
        amount=8000,
        currency="CHF",
        bank_reference="UBS-2026-11-0001",
        paid_on=dt.date.today(),
        actor=admin_user,
    )
    with pytest.raises(PayoutExceedsAvailable):
        payouts.payout_record(
            coach=coach,
            amount=501,
            currency="CHF",
            bank_reference="X",
            paid_on=dt.date.today(),
            actor=admin_user,
        )
    assert balances.coach_balances(coach=coach, currency="CHF") == balances.Balances(
        currency="CHF", pending=0, available=500, paid_out=8000
    )


# --- completion job (issue 11 item 2) --------------------------------------------


def test_completion_job_completes_ended_confirmed_sessions_once():
    _coach, offering = make_coach()
    ended = pay(offering, days_ago=2)
    future = pay(offering, days_ago=-2)
    assert booking_services.booking_complete_ended() == 1
    assert booking_services.booking_complete_ended() == 0
    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses[ended.booking_id] == Booking.Status.COMPLETED
    assert statuses[future.booking_id] == Booking.Status.CONFIRMED
    moves = BookingTransition.objects.filter(to_status=Booking.Status.COMPLETED)
    assert list(moves.values_list("booking_id", "cause", "actor")) == [
        (ended.booking_id, "session_ended", None)
    ]


def test_periodic_schedule_runs_completion_and_maturation():
    from payments.tasks import PERIODIC

    names = {task.name.rsplit(".", 1)[-1] for task, _ in PERIODIC}
    assert {"complete_ended_sessions", "mature_earnings"} <= names


# --- property: the books always balance --------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.sampled_from([5500, 10000, 12345])),
        st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 100)),
        st.tuples(
            st.just("dispute"), st.integers(0, 9), st.sampled_from(["won", "lost"])
        ),
        st.tuples(st.just("complete"), st.integers(0, 9)),
        st.tuples(st.just("mature"), st.just(0)),
        st.tuples(st.just("payout"), st.integers(1, 150)),
    ),
    min_size=1,
    max_size=14,
)


def check_books(coach, payments: list[Payment]) -> balances.Balances:
    got = balances.coach_balances(coach=coach, currency="CHF")
    entries = LedgerEntry.objects.filter(coach=coach)
    share = entries.filter(kind__in=LedgerEntry.COACH).aggregate(t=Sum("amount"))["t"]
    assert (share or 0) == got.pending + got.available + got.paid_out
    pending = available = 0
    for payment in payments:
        payment.refresh_from_db()
        own = kind_sum(payment, *LedgerEntry.COACH)
        cash = kind_sum(payment, *LedgerEntry.CASH)
        assert cash == kind_sum(payment, *LedgerEntry.PLATFORM) + own
        assert kind_sum(payment, K.CHARGE, K.REFUND) == (
            payment.amount_received - payment.amount_refunded
        )
        if LedgerEntry.objects.filter(payment=payment, kind=K.EARNING_MATURED).exists():
            available += own
        else:
            pending += own
    assert got.pending == pending
    assert got.available == available - got.paid_out
    return got


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule=st.sampled_from(RefundFeeRule.values), ops=OPS)
def test_ledger_equals_pending_plus_available_plus_paid_out(rule, ops):
    coach, offering = make_coach(rule)
    client = factories.ClientFactory()
    payments: list[Payment] = []
    for op in ops:
        kind = op[0]
        if kind == "pay":
            offering.price_amount = op[1]
            offering.save(update_fields=["price_amount"])
            payments.append(pay(offering, client=client))
        elif kind in ("refund", "dispute", "complete") and payments:
            payment = payments[op[1] % len(payments)]
            payment.refresh_from_db()
            if kind == "refund" and payment.status in (
                Payment.Status.SUCCEEDED,
                Payment.Status.PARTIALLY_REFUNDED,
            ):
                amount = max(1, payment.amount_refundable * op[2] // 100)
                offline.refund_offline(
                    payment=payment, amount=amount, at=timezone.now()
                )
            elif kind == "dispute" and payment.status in (
                Payment.Status.SUCCEEDED,
                Payment.Status.PARTIALLY_REFUNDED,
            ):
                dispute(payment, op[2])
            elif kind == "complete":
                booking = Booking.objects.get(pk=payment.booking_id)
                if booking.status == Booking.Status.CONFIRMED:
                    complete(payment)
        elif kind == "mature":
            balances.earnings_mature_due(now=later())
        elif kind == "payout":
            before = check_books(coach, payments)
            amount = max(1, before.available * op[1] // 100)
            try:
                payouts.payout_record(
                    coach=coach,
                    amount=amount,
                    currency="CHF",
                    bank_reference="ref",
                    paid_on=dt.date.today(),
                    actor=None,
                )
            except PayoutExceedsAvailable:
                assert amount > before.available
            else:
                assert amount <= before.available
        got = check_books(coach, payments)
        assert got.paid_out >= 0


def test_share_left_by_a_cancelled_booking_matures_too():
    coach, offering = make_coach(RefundFeeRule.PLATFORM_KEEPS)
    payment = pay(offering, days_ago=-3)
    offline.refund_offline(payment=payment, amount=10000, at=timezone.now())
    assert Booking.objects.get(pk=payment.booking_id).status == Booking.Status.REFUNDED
    # The platform kept its fee: the coach owes it, first pending...
    assert balances.coach_balances(coach=coach, currency="CHF").pending == -1500
    assert balances.earnings_mature_due(now=later()) == 1
    # ...then against available, never pending for ever.
    got = balances.coach_balances(coach=coach, currency="CHF")
    assert (got.pending, got.available) == (0, -1500)
