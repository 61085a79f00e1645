"""Staff refund from the payment's admin page: an amount (partial or full)
and a reason, a confirmation page with the effect, then the refund through
the service; money shown as money; payment <-> webhook events and Stripe
links; Stripe ids as Stripe writes them."""

import pytest
from django.urls import reverse

from payments import selectors
from payments.models import LedgerEntry, Refund, WebhookEvent

pytestmark = pytest.mark.django_db


def _ledger(payment, kinds):
    return sum(
        LedgerEntry.objects.filter(payment=payment, kind__in=kinds).values_list(
            "amount", flat=True
        )
    )


def test_staff_refunds_chf_20_of_100_after_seeing_the_effect(
    staff, paid, coach, admin_user, stripe_client
):
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    change = staff.get(reverse("admin:payments_payment_change", args=[paid.pk]))
    assert url in change.content.decode()  # the "Refund…" link

    preview = staff.post(url, {"amount": "20", "reason": "Late start, goodwill."})

    assert preview.status_code == 200
    html = preview.content.decode()
    effect = preview.context["preview"]
    assert effect["client_back"] == "CHF 20.00"
    # 15 % fee: the fee gives back 3.00, the coach's share 17.00.
    assert (effect["coach_before"], effect["coach_after"]) == ("CHF 85.00", "CHF 68.00")
    assert (effect["fee_before"], effect["fee_after"]) == ("CHF 15.00", "CHF 12.00")
    assert "Yes, refund CHF 20.00" in html
    assert not Refund.objects.exists()  # nothing happens before the confirmation

    done = staff.post(
        url, {"amount": "20", "reason": "Late start, goodwill.", "confirm": "yes"}
    )

    assert done.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.requested_by) == (
        2000,
        "succeeded",
        admin_user,
    )
    assert "Late start, goodwill." in refund.note
    paid.refresh_from_db()
    assert paid.amount_refunded == 2000 and paid.status == "partially_refunded"
    # The ledger, the emulator and the coach's earnings agree.
    assert _ledger(paid, LedgerEntry.CASH) == 8000
    assert _ledger(paid, LedgerEntry.COACH) == 6800
    assert _ledger(paid, LedgerEntry.PLATFORM) == 1200
    at_stripe = stripe_client.v1.refunds.list(
        params={"payment_intent": paid.stripe_payment_intent_id}
    )
    assert [r.amount for r in at_stripe.data] == [2000]
    earnings = selectors.earnings_total_for_coach(coach=coach, currency="CHF")
    assert earnings.coach_net == 6800
    assert earnings.refunds == 2000


def test_full_refund_from_the_page_nets_the_ledger_to_zero(staff, paid):
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    preview = staff.post(url, {"amount": "100.00", "reason": "Duplicate"})
    assert preview.context["preview"]["coach_after"] == "CHF 0.00"
    assert preview.context["preview"]["fee_after"] == "CHF 0.00"
    staff.post(url, {"amount": "100.00", "reason": "Duplicate", "confirm": "yes"})
    paid.refresh_from_db()
    assert paid.status == "refunded"
    assert _ledger(paid, LedgerEntry.COACH) == _ledger(paid, LedgerEntry.PLATFORM) == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.01", "The amount must be at most CHF 100.00."),
        ("0", "The amount must be more than zero."),
        ("20.005", "Enter at most 2 decimals."),
        ("1e3", "Enter a plain number"),
        ("-5", "Enter the number without a sign."),
        ("٣", "Enter a plain number"),
        ("9" * 40, "at most 20 characters"),
    ],
)
def test_refund_amount_is_parsed_tightly_and_bounded(staff, paid, amount, message):
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    response = staff.post(url, {"amount": amount, "reason": "x", "confirm": "yes"})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["amount"])
    assert not Refund.objects.exists()


def test_refund_page_is_for_admins_only(client, coach, paid):
    client.force_login(coach)
    url = reverse("admin:payments_payment_refund", args=[paid.pk])
    response = client.post(url, {"amount": "20", "reason": "x", "confirm": "yes"})
    assert response.status_code == 302  # to the admin login
    assert not Refund.objects.exists()


def test_payment_page_shows_money_and_links_to_events_and_stripe(staff, paid):
    WebhookEvent.objects.create(
        stripe_event_id="evt_TestLinkAbc",
        type="payment_intent.succeeded",
        payload={
            "id": "evt_TestLinkAbc",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": paid.stripe_payment_intent_id,
                    "object": "payment_intent",
                }
            },
        },
    )
    page = staff.get(reverse("admin:payments_payment_change", args=[paid.pk]))
    html = page.content.decode()
    assert "CHF 100.00" in html and "CHF 85.00" in html and "CHF 15.00" in html
    assert ">10000<" not in html and ">8500<" not in html
    assert f"<code>{paid.stripe_payment_intent_id}</code>" in html
    assert "https://dashboard.stripe.com/test/payments/" in html
    event = WebhookEvent.objects.get(stripe_event_id="evt_TestLinkAbc")
    assert reverse("admin:payments_webhookevent_change", args=[event.pk]) in html
    assert "<code>evt_TestLinkAbc</code>" in html

    event_page = staff.get(
        reverse("admin:payments_webhookevent_change", args=[event.pk])
    ).content.decode()
    assert reverse("admin:payments_payment_change", args=[paid.pk]) in event_page

    listing = staff.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert f"<code>{paid.stripe_payment_intent_id}</code>" in listing
    assert "CHF 100.00" in listing
