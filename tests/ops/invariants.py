"""The money invariants every fault test checks after its fault (issue 13).

One helper, ``assert_money_invariants``, compares our database with what the
emulator holds, booking by booking:

- one charge per booking at the emulator (across all its intents);
- the ledger's charge and refund sums per payment equal what Stripe holds;
- refunds never exceed what was received (ours and Stripe's);
- no webhook event left unprocessed (pending, failed or dead);
- each payment's status and amounts agree with its intent at the emulator.
"""

from collections import Counter

from bookings.models import Booking
from payments.models import CHARGED, LedgerEntry, Payment, Refund, WebhookEvent
from payments.services.stripe_state import FROM_STRIPE

_UNPROCESSED = (
    WebhookEvent.Status.PENDING,
    WebhookEvent.Status.FAILED,
    WebhookEvent.Status.DEAD,
)


def assert_money_invariants(stripe_client, bookings: list[Booking]) -> None:
    """Fail with every broken invariant of ``bookings``' money (see module doc)."""
    problems: list[str] = []
    for booking in bookings:
        charges = 0
        for payment in Payment.objects.filter(booking=booking):
            charges += _check_payment(stripe_client, payment, problems)
        if charges > 1:
            problems.append(f"booking {booking.pk}: {charges} charges at Stripe")
    left = Counter(
        WebhookEvent.objects.filter(status__in=_UNPROCESSED).values_list(
            "status", flat=True
        )
    )
    if left:
        problems.append(f"webhook events left unprocessed: {dict(left)}")
    assert not problems, "\n".join(problems)


def _check_payment(stripe_client, payment: Payment, problems: list[str]) -> int:
    """Check one payment against its intent; return its charges at Stripe."""
    name = f"payment {payment.pk} ({payment.status})"
    if not payment.stripe_payment_intent_id:
        if payment.ledger.exists():
            problems.append(f"{name}: ledger entries without an intent")
        return 0
    intent = stripe_client.v1.payment_intents.retrieve(
        payment.stripe_payment_intent_id
    ).to_dict()
    charges = [
        c
        for c in stripe_client.v1.charges.list(
            params={"customer": intent["customer"], "limit": 100}
        ).auto_paging_iter()
        if c.payment_intent == intent["id"] and c.status == "succeeded"
    ]
    received = sum(c.amount for c in charges)
    refunded = sum(
        r.amount
        for r in stripe_client.v1.refunds.list(
            params={"payment_intent": intent["id"], "limit": 100}
        ).auto_paging_iter()
        if r.status == "succeeded"
    )
    sums = _ledger_sums(payment)

    if len(charges) > 1:
        problems.append(f"{name}: {len(charges)} charges of one intent")
    if sums[LedgerEntry.Kind.CHARGE] != received:
        problems.append(
            f"{name}: ledger charge {sums[LedgerEntry.Kind.CHARGE]} != {received} "
            "received at Stripe"
        )
    if -sums[LedgerEntry.Kind.REFUND] != refunded:
        problems.append(
            f"{name}: ledger refunds {-sums[LedgerEntry.Kind.REFUND]} != {refunded} "
            "refunded at Stripe"
        )
    if refunded > received or payment.amount_refunded > payment.amount_received:
        problems.append(f"{name}: refunded more than received")
    if payment.amount_received != received:
        problems.append(
            f"{name}: amount_received {payment.amount_received} != {received}"
        )
    if payment.amount_refunded != refunded:
        problems.append(
            f"{name}: amount_refunded {payment.amount_refunded} != {refunded}"
        )
    pending = payment.refunds.filter(status=Refund.Status.PENDING).count()
    if pending:
        problems.append(f"{name}: {pending} refunds still pending")
    expected = FROM_STRIPE.get(intent["status"])
    agrees = (
        payment.status in CHARGED
        if intent["status"] == "succeeded"
        else payment.status == expected
        # A declined card ends our payment; its intent waits for another
        # card until our cancel reaches Stripe.
        or (
            payment.status == Payment.Status.FAILED
            and intent["status"] in ("canceled", "requires_payment_method")
        )
    )
    if not agrees:
        problems.append(f"{name}: the intent at Stripe is {intent['status']}")
    return len(charges)


def _ledger_sums(payment: Payment) -> Counter:
    sums: Counter = Counter()
    for kind, amount in payment.ledger.values_list("kind", "amount"):
        sums[kind] += amount
    return sums
