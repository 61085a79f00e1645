"""Payment services against localstripe through the real gateway and SDK."""

import datetime as dt
import urllib.parse
import urllib.request
from dataclasses import replace

import pytest
from django.db.models import Sum
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking
from payments import gateway, services
from payments.exceptions import (
    BookingNotPayable,
    CardDeclined,
    InvalidRefund,
    PaymentNotFound,
    PriceMismatch,
    RefundNotAllowed,
    RefundWindowClosed,
)
from payments.models import (
    LedgerEntry,
    Payment,
    PaymentTransition,
    Refund,
    SavedPaymentMethod,
)
from payments.services.methods import PaymentMethodNotUsable
from tests.payments.conftest import (
    DECLINED_AT_ATTACH,
    DECLINED_AT_CHARGE,
    MASTERCARD,
    THREE_D_SECURE,
    VISA,
    VISA_DEBIT,
)

pytestmark = pytest.mark.django_db

SEED_PRICE = {
    "base": {"amount": 100, "currency": "CHF"},
    "final": {"amount": 100, "currency": "CHF"},
    "currency": "CHF",
    "vat": {"rate": 8.1, "included": True},
    "platformFee": {"percentage": 15},
}


def ledger(payment) -> dict[str, int]:
    return dict(
        LedgerEntry.objects.filter(payment=payment)
        .values_list("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )


def pay(booking, actor, card_id):
    payment, _intent = services.payment_create_intent(booking=booking, actor=actor)
    return services.payment_confirm(
        payment=payment, payment_method_id=card_id, actor=actor
    )


def authenticate_3ds(localstripe_url, intent, *, success: bool):
    """What Stripe.js's 3-D Secure dialog does in localstripe."""
    body = urllib.parse.urlencode(
        {
            "client_secret": intent.client_secret,
            "key": "pk_test_localstripe",
            "success": "true" if success else "false",
        }
    ).encode()
    url = f"{localstripe_url}/v1/payment_intents/{intent.id}/_authenticate"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5):
        pass


# --- create intent ------------------------------------------------------------------


def test_payment_create_intent_twice_returns_the_same_intent(booking, client_user):
    first, intent = services.payment_create_intent(booking=booking, actor=client_user)
    second, again = services.payment_create_intent(booking=booking, actor=client_user)
    assert first.pk == second.pk
    assert intent.id == again.id == second.stripe_payment_intent_id
    assert intent.client_secret == again.client_secret
    assert intent.amount == 10000 and intent.currency == "chf"
    assert Payment.objects.count() == 1


def test_payment_create_intent_takes_the_breakdown_from_the_booking(
    booking, client_user
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    assert (payment.amount, payment.vat_amount, payment.net_amount) == (
        10000,
        749,
        9251,
    )
    assert (payment.platform_fee_amount, payment.coach_amount) == (1500, 8500)
    assert payment.payer == client_user and payment.recipient == booking.coach
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_payment_create_intent_with_the_seed_price_is_accepted(booking, client_user):
    payment, _ = services.payment_create_intent(
        booking=booking, actor=client_user, requested_price=SEED_PRICE
    )
    assert payment.amount == 10000


@pytest.mark.parametrize(
    "change",
    [
        {"final": {"amount": 1, "currency": "CHF"}},
        {"currency": "EUR", "final": {"amount": 100, "currency": "EUR"}},
        {"vat": {"rate": 7.7, "included": True}},
        {"platformFee": {"percentage": 0}},
        {"final": {"amount": "abc", "currency": "CHF"}},
    ],
)
def test_payment_create_intent_with_another_price_is_refused(
    booking, client_user, change
):
    with pytest.raises(PriceMismatch):
        services.payment_create_intent(
            booking=booking, actor=client_user, requested_price=SEED_PRICE | change
        )
    assert not Payment.objects.exists()


def test_payment_create_intent_for_someone_elses_booking_is_not_found(
    booking, other_client
):
    with pytest.raises(PaymentNotFound):
        services.payment_create_intent(booking=booking, actor=other_client)
    assert not Payment.objects.exists()


def test_payment_create_intent_after_the_hold_expired_is_refused(booking, client_user):
    Booking.objects.filter(pk=booking.pk).update(
        expires_at=timezone.now() - dt.timedelta(1)
    )
    booking.refresh_from_db()
    with pytest.raises(BookingNotPayable):
        services.payment_create_intent(booking=booking, actor=client_user)


def test_payment_create_intent_for_a_paid_booking_is_refused(
    booking, client_user, make_card
):
    pay(booking, client_user, make_card())
    booking.refresh_from_db()
    with pytest.raises(BookingNotPayable):
        services.payment_create_intent(booking=booking, actor=client_user)


# --- confirm ----------------------------------------------------------------------


def test_payment_confirm_with_a_good_card_succeeds_and_books_the_ledger(
    booking, client_user, make_card
):
    payment, intent = pay(booking, client_user, make_card(VISA))
    assert intent.status == "succeeded"
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount_received == 10000
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert ledger(payment) == {
        "charge": 10000,
        "platform_fee": 1500,
        "coach_earning": 8500,
        "vat": 749,
    }
    moves = list(payment.transitions.values_list("from_status", "to_status"))
    assert moves == [
        ("", "requires_payment_method"),
        ("requires_payment_method", "requires_confirmation"),
        ("requires_confirmation", "succeeded"),
    ]
    assert payment.version == 3


def test_payment_confirm_twice_charges_once(
    booking, client_user, make_card, stripe_client
):
    payment, _ = pay(booking, client_user, make_card())
    again, intent = services.payment_confirm(
        payment=payment, payment_method_id=make_card(), actor=client_user
    )
    assert again.status == Payment.Status.SUCCEEDED and intent.status == "succeeded"
    assert again.version == payment.version
    charges = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()["charges"]
    assert len(charges["data"]) == 1
    assert LedgerEntry.objects.filter(kind="charge").count() == 1


def test_payment_confirm_by_another_user_is_not_found(
    booking, client_user, other_client, make_card
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with pytest.raises(PaymentNotFound):
        services.payment_confirm(
            payment=payment, payment_method_id=make_card(), actor=other_client
        )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_PAYMENT_METHOD


def test_payment_confirm_declined_fails_the_payment_and_keeps_the_booking_payable(
    booking, client_user, make_card, stripe_client, django_capture_on_commit_callbacks
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(CardDeclined) as err,
    ):
        services.payment_confirm(
            payment=payment,
            payment_method_id=make_card(DECLINED_AT_CHARGE),
            actor=client_user,
        )
    assert err.value.http_status == 402
    assert err.value.details["declineCode"] == "card_declined"
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert payment.last_error_code == "card_declined"
    assert booking.status == Booking.Status.PENDING_PAYMENT
    assert not LedgerEntry.objects.exists()
    # The dead intent is cancelled at Stripe, so nothing can charge it later.
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"

    retry, new_intent = services.payment_create_intent(
        booking=booking, actor=client_user
    )
    assert retry.pk != payment.pk and new_intent.id != intent.id
    paid, _ = services.payment_confirm(
        payment=retry, payment_method_id=make_card(VISA), actor=client_user
    )
    assert paid.status == Payment.Status.SUCCEEDED


def test_payment_confirm_with_a_card_refused_at_attach_is_declined(
    booking, client_user, make_card
):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with pytest.raises(CardDeclined):
        services.payment_confirm(
            payment=payment,
            payment_method_id=make_card(DECLINED_AT_ATTACH),
            actor=client_user,
        )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT


def test_payment_confirm_with_3ds_requires_action_then_succeeds(
    booking, client_user, make_card, localstripe_url
):
    payment, intent = pay(booking, client_user, make_card(THREE_D_SECURE))
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert intent.next_action["type"] == "use_stripe_sdk"
    authenticate_3ds(localstripe_url, intent, success=True)
    payment = services.payment_refresh_from_stripe(payment=payment)
    assert payment.status == Payment.Status.SUCCEEDED
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_payment_confirm_with_failed_3ds_fails_and_the_booking_stays_payable(
    booking, client_user, make_card, localstripe_url
):
    payment, intent = pay(booking, client_user, make_card(THREE_D_SECURE))
    authenticate_3ds(localstripe_url, intent, success=False)
    payment = services.payment_refresh_from_stripe(payment=payment)
    assert payment.status == Payment.Status.FAILED
    booking.refresh_from_db()
    assert booking.status == Booking.Status.PENDING_PAYMENT
    fresh, _ = services.payment_create_intent(booking=booking, actor=client_user)
    assert fresh.pk != payment.pk


def test_payment_confirm_with_someone_elses_saved_card_is_refused(
    booking, client_user, other_client, make_card
):
    theirs = make_card()
    services.payment_method_attach(
        user=other_client,
        payment_method_id=theirs,
        make_default=True,
        actor=other_client,
    )
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with pytest.raises(PaymentMethodNotUsable):
        services.payment_confirm(
            payment=payment, payment_method_id=theirs, actor=client_user
        )
    payment.refresh_from_db()
    assert payment.status in {"requires_payment_method", "requires_confirmation"}


# --- apply intent state ----------------------------------------------------------------


def test_payment_apply_intent_state_twice_changes_nothing(
    booking, client_user, make_card
):
    payment, intent = pay(booking, client_user, make_card())
    count = PaymentTransition.objects.count()
    again = services.payment_apply_intent_state(
        payment=payment, intent=intent, cause="webhook"
    )
    assert again.version == payment.version
    assert PaymentTransition.objects.count() == count
    assert LedgerEntry.objects.count() == 4


def test_payment_apply_intent_state_backwards_move_is_ignored(
    booking, client_user, make_card
):
    payment, intent = pay(booking, client_user, make_card())
    late = replace(intent, status="processing")
    after = services.payment_apply_intent_state(
        payment=payment, intent=late, cause="webhook"
    )
    assert after.status == Payment.Status.SUCCEEDED
    assert after.version == payment.version


def test_payment_apply_intent_state_with_a_foreign_intent_is_ignored(
    booking, client_user, make_card
):
    payment, intent = pay(booking, client_user, make_card())
    other = replace(intent, id="pi_someone_else", status="canceled")
    after = services.payment_apply_intent_state(
        payment=payment, intent=other, cause="webhook"
    )
    assert after.status == Payment.Status.SUCCEEDED


def test_payment_succeeding_after_the_hold_expired_is_refunded_automatically(
    booking, client_user, make_card, stripe_client, django_capture_on_commit_callbacks
):
    payment, intent = services.payment_create_intent(booking=booking, actor=client_user)
    card = make_card()
    # The client's browser confirms at Stripe, but our side hears of it late.
    stripe_client.v1.payment_methods.attach(
        card, params={"customer": payment.stripe_customer_id}
    )
    stripe_client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    stripe_client.v1.payment_intents.confirm(intent.id)
    Booking.objects.filter(pk=booking.pk).update(
        expires_at=timezone.now() - dt.timedelta(1)
    )
    booking_services.booking_expire(booking=booking, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        payment = services.payment_refresh_from_stripe(
            payment=payment, cause="reconcile"
        )
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.EXPIRED
    assert payment.status == Payment.Status.REFUNDED
    assert sum(ledger(payment).values()) == 0


def test_gateway_intent_result_derives_amount_received_from_charges(
    booking, client_user, make_card
):
    _payment, intent = pay(booking, client_user, make_card())
    assert gateway.payment_intent_retrieve(intent.id).amount_received == 10000


# --- refunds -----------------------------------------------------------------------------


@pytest.fixture
def paid(booking, client_user, make_card):
    payment, _ = pay(booking, client_user, make_card())
    return payment


def test_payment_refund_partial_then_full_ends_refunded_with_a_zero_ledger(
    paid, coach, booking, stripe_client
):
    first = services.payment_refund(
        payment=paid, amount=3000, reason="requested_by_customer", actor=coach
    )
    paid.refresh_from_db()
    assert first.status == Refund.Status.SUCCEEDED and first.stripe_refund_id
    assert paid.status == Payment.Status.PARTIALLY_REFUNDED
    assert paid.amount_refunded == 3000
    entries = ledger(paid)
    assert entries["charge"] + entries["refund"] == 7000  # what Stripe holds
    assert entries["platform_fee"] + entries["platform_fee_reversal"] == 1050

    services.payment_refund(
        payment=paid, amount=None, reason="requested_by_customer", actor=coach
    )
    paid.refresh_from_db()
    booking.refresh_from_db()
    assert paid.status == Payment.Status.REFUNDED and paid.amount_refunded == 10000
    assert booking.status == Booking.Status.REFUNDED
    assert all(total == 0 for total in _by_pair(ledger(paid)).values())
    refunded = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.stripe_payment_intent_id}
    )
    assert sum(r.amount for r in refunded.data) == 10000


def _by_pair(entries: dict[str, int]) -> dict[str, int]:
    return {
        "cash": entries.get("charge", 0) + entries.get("refund", 0),
        "platform": entries.get("platform_fee", 0)
        + entries.get("platform_fee_reversal", 0),
        "coach": entries.get("coach_earning", 0)
        + entries.get("coach_earning_reversal", 0),
        "vat": entries.get("vat", 0) + entries.get("vat_reversal", 0),
    }


def test_payment_refund_several_partials_keep_the_split_consistent(paid, coach):
    for amount in (333, 1, 2999, 1667):
        services.payment_refund(
            payment=paid, amount=amount, reason="duplicate", actor=coach
        )
        paid.refresh_from_db()
        pairs = _by_pair(ledger(paid))
        held = paid.amount_received - paid.amount_refunded
        assert pairs["cash"] == held
        assert pairs["platform"] + pairs["coach"] == held
        assert 0 <= pairs["platform"] <= 1500 and 0 <= pairs["vat"] <= 749
    services.payment_refund(payment=paid, amount=None, reason="duplicate", actor=coach)
    paid.refresh_from_db()
    assert set(_by_pair(ledger(paid)).values()) == {0}


@pytest.mark.parametrize("amount", [0, -5, 10001])
def test_payment_refund_outside_what_is_left_is_refused(paid, coach, amount):
    with pytest.raises(InvalidRefund):
        services.payment_refund(
            payment=paid, amount=amount, reason="duplicate", actor=coach
        )
    assert not Refund.objects.exists()


def test_payment_refund_more_than_what_is_left_after_a_partial_is_refused(paid, coach):
    services.payment_refund(payment=paid, amount=6000, reason="duplicate", actor=coach)
    with pytest.raises(InvalidRefund):
        services.payment_refund(
            payment=paid, amount=4001, reason="duplicate", actor=coach
        )
    paid.refresh_from_db()
    assert paid.amount_refunded == 6000


def test_payment_refund_with_an_unknown_reason_is_refused(paid, coach):
    with pytest.raises(InvalidRefund):
        services.payment_refund(payment=paid, amount=100, reason="because", actor=coach)


def test_payment_refund_by_the_client_after_the_window_is_refused(
    paid, client_user, booking
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    with pytest.raises(RefundWindowClosed):
        services.payment_refund(
            payment=paid, amount=None, reason="requested_by_customer", actor=client_user
        )
    paid.refresh_from_db()
    assert paid.amount_refunded == 0


def test_payment_refund_by_coach_and_admin_ignores_the_window(
    paid, coach, admin_user, booking
):
    Booking.objects.filter(pk=booking.pk).update(cancellation_window_hours=24 * 30)
    services.payment_refund(payment=paid, amount=1000, reason="duplicate", actor=coach)
    services.payment_refund(
        payment=paid, amount=1000, reason="fraudulent", actor=admin_user
    )
    paid.refresh_from_db()
    assert paid.amount_refunded == 2000


def test_payment_refund_by_a_stranger_is_not_found(paid, other_client, other_coach):
    for stranger in (other_client, other_coach):
        with pytest.raises(PaymentNotFound):
            services.payment_refund(
                payment=paid, amount=100, reason="duplicate", actor=stranger
            )


def test_payment_refund_before_payment_is_refused(booking, client_user, coach):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    with pytest.raises(RefundNotAllowed):
        services.payment_refund(
            payment=payment, amount=None, reason="duplicate", actor=coach
        )


def test_payment_refund_after_a_full_refund_is_refused(paid, coach):
    services.payment_refund(payment=paid, amount=None, reason="duplicate", actor=coach)
    with pytest.raises(RefundNotAllowed):
        services.payment_refund(
            payment=paid, amount=None, reason="duplicate", actor=coach
        )


# --- saved cards ------------------------------------------------------------------------


def test_payment_method_attach_first_card_becomes_default(
    client_user, make_card, stripe_client
):
    card = make_card()
    method = services.payment_method_attach(
        user=client_user, payment_method_id=card, make_default=False, actor=client_user
    )
    assert method.is_default and (method.brand, method.last4) == ("visa", "4242")
    customer = stripe_client.v1.customers.retrieve(
        client_user.stripe_customer.stripe_customer_id
    )
    assert customer.invoice_settings.default_payment_method == card


def test_payment_method_attach_twice_is_idempotent(client_user, make_card):
    card = make_card()
    for _ in range(2):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=card,
            make_default=True,
            actor=client_user,
        )
    assert SavedPaymentMethod.objects.filter(user=client_user).count() == 1


def test_payment_method_set_default_moves_the_default(client_user, make_card):
    first, second = make_card(VISA), make_card(MASTERCARD)
    for card in (first, second):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=card,
            make_default=False,
            actor=client_user,
        )
    services.payment_method_set_default(
        user=client_user, payment_method_id=second, actor=client_user
    )
    defaults = SavedPaymentMethod.objects.filter(user=client_user, is_default=True)
    assert list(defaults.values_list("stripe_payment_method_id", flat=True)) == [second]


def test_payment_method_detach_default_promotes_the_newest_remaining_card(
    client_user, make_card, stripe_client
):
    cards = [make_card(number) for number in (VISA, MASTERCARD, VISA_DEBIT)]
    for card in cards:
        services.payment_method_attach(
            user=client_user,
            payment_method_id=card,
            make_default=False,
            actor=client_user,
        )
    assert (
        SavedPaymentMethod.objects.get(
            user=client_user, is_default=True
        ).stripe_payment_method_id
        == cards[0]
    )
    services.payment_method_detach(
        user=client_user, payment_method_id=cards[0], actor=client_user
    )
    default = SavedPaymentMethod.objects.get(user=client_user, is_default=True)
    assert default.stripe_payment_method_id == cards[2]
    assert stripe_client.v1.payment_methods.retrieve(cards[0]).customer is None
    customer = stripe_client.v1.customers.retrieve(
        client_user.stripe_customer.stripe_customer_id
    )
    assert customer.invoice_settings.default_payment_method == cards[2]


def test_payment_method_detach_of_someone_elses_card_is_not_found(
    client_user, other_client, make_card
):
    card = make_card()
    services.payment_method_attach(
        user=client_user, payment_method_id=card, make_default=True, actor=client_user
    )
    with pytest.raises(PaymentNotFound):
        services.payment_method_detach(
            user=other_client, payment_method_id=card, actor=other_client
        )
    assert SavedPaymentMethod.objects.filter(stripe_payment_method_id=card).exists()


def test_payment_method_attach_of_a_declining_card_saves_nothing(
    client_user, make_card
):
    with pytest.raises(CardDeclined):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=make_card(DECLINED_AT_ATTACH),
            make_default=True,
            actor=client_user,
        )
    assert not SavedPaymentMethod.objects.exists()


def test_payment_with_a_saved_card_succeeds(booking, client_user, make_card):
    card = make_card()
    services.payment_method_attach(
        user=client_user, payment_method_id=card, make_default=True, actor=client_user
    )
    payment, _ = pay(booking, client_user, card)
    assert payment.status == Payment.Status.SUCCEEDED
