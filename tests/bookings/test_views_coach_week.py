"""The coach's bookings page as a tool for the week: filters, cancelling with
the coach's wording and a reason the client is sent (everything refunded,
through the one cancellation service, at localstripe), and what the coach
receives after refunds."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from payments import services as payment_services
from payments.models import LedgerEntry, Notification, Payment
from tests.bookings.test_views_coach import pay
from tests.payments import conftest as payment_fixtures

stripe_client = payment_fixtures.stripe_client
make_card = payment_fixtures.make_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_coach(client, coach):
    client.force_login(coach)
    return client


def _ids(response, key="filtered"):
    return [str(item["booking"].pk) for item in response.context[key]]


def test_filters_split_upcoming_holds_past_and_cancelled(
    as_coach, make_booking, make_card, zurich_at, set_state
):
    hold = make_booking(starts_at=zurich_at(2, 9))
    paid = make_booking(starts_at=zurich_at(2, 11))
    pay(paid, make_card())
    over = make_booking(starts_at=zurich_at(3, 9))
    pay(over, make_card())
    set_state(
        over,
        starts_at=timezone.now() - dt.timedelta(hours=3),
        ends_at=timezone.now() - dt.timedelta(hours=2),
    )
    gone = make_booking(starts_at=zurich_at(3, 14))
    payment_services.booking_cancel_with_refund(booking=gone, actor=gone.client)

    url = reverse("coach:bookings")
    assert _ids(as_coach.get(url + "?show=upcoming")) == [str(paid.pk)]
    assert _ids(as_coach.get(url + "?show=holds")) == [str(hold.pk)]
    assert _ids(as_coach.get(url + "?show=past")) == [str(over.pk)]
    assert _ids(as_coach.get(url + "?show=cancelled")) == [str(gone.pk)]
    html = as_coach.get(url + "?show=holds").content.decode()
    assert '<a href="/coach/bookings/?show=holds" aria-current="page">' in html
    # An unknown filter is the default page.
    assert as_coach.get(url + "?show=nope").context["show"] == ""


def test_coach_cancel_says_the_client_is_refunded_in_full_before_confirming(
    as_coach, coach, make_booking, make_card, stripe_client
):
    booking = make_booking()
    payment = pay(booking, make_card())
    url = reverse("coach:booking_cancel", args=[booking.pk])

    page = as_coach.get(url).content.decode()
    assert "is refunded in full: CHF 100.00 goes back to their card." in page
    assert "Cancel and refund in full" in page
    assert "You then receive CHF 0.00 for this session." in page
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"

    # No reason: refused, nothing happens.
    assert as_coach.post(url, {"reason": ""}).status_code == 400
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"

    response = as_coach.post(url, {"reason": "I am ill this week, sorry."})

    assert response.status_code == 302
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == "refunded"
    assert booking.cancel_reason == "I am ill this week, sorry."
    assert payment.amount_refunded == 10000
    intent = stripe_client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": intent.id})
    assert sum(refund.amount for refund in refunds.data) == 10000
    note = Notification.objects.get(recipient=booking.client, kind="booking_cancelled")
    assert "I am ill this week, sorry." in note.body
    assert "Everything you paid is refunded" in note.body

    # The card now says what the coach receives: nothing, after the refund.
    html = as_coach.get(reverse("coach:bookings") + "?show=cancelled")
    item = html.context["filtered"][0]
    assert item["coach_now"] == 0
    assert "after refunds (was CHF 85.00)" in html.content.decode()
    assert "I am ill this week, sorry." in html.content.decode()


def test_partial_goodwill_refund_shows_what_the_coach_now_receives(
    as_coach, coach, make_booking, make_card
):
    payment = pay(make_booking(), make_card())
    payment_services.payment_refund(
        payment=payment, amount=2000, reason="requested_by_customer", actor=coach
    )
    coach_ledger = sum(
        LedgerEntry.objects.filter(
            payment=payment, kind__in=LedgerEntry.COACH
        ).values_list("amount", flat=True)
    )
    response = as_coach.get(reverse("coach:bookings"))
    item = response.context["upcoming"][0]
    assert item["coach_now"] == coach_ledger == 8500 - 1700
    assert "CHF 68.00" in response.content.decode()
    assert "You receive CHF 85.00" not in response.content.decode()


def test_coach_cancels_a_hold_and_its_intent_is_cancelled(
    as_coach, make_booking, stripe_client
):
    booking = make_booking()
    payment, _ = payment_services.payment_create_intent(
        booking=booking, actor=booking.client
    )
    page = as_coach.get(reverse("coach:booking_cancel", args=[booking.pk]))
    assert "has not paid yet" in page.content.decode()
    as_coach.post(
        reverse("coach:booking_cancel", args=[booking.pk]),
        {"reason": "Double-booked myself."},
    )
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    assert Payment.objects.get(pk=payment.pk).status == "canceled"
    intent = stripe_client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
    assert intent.status == "canceled"


def test_another_coachs_booking_cannot_be_cancelled(client, other_coach, booking):
    client.force_login(other_coach)
    url = reverse("coach:booking_cancel", args=[booking.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x"}).status_code == 404
    booking.refresh_from_db()
    assert booking.status == "pending_payment"


def test_the_coach_reaches_the_coach_worded_cancel_page_from_the_booking_page(
    as_coach, booking
):
    detail = as_coach.get(reverse("bookings:detail", args=[booking.pk]))
    coach_url = reverse("coach:booking_cancel", args=[booking.pk])
    assert coach_url in detail.content.decode()
    shared = as_coach.get(reverse("bookings:cancel", args=[booking.pk]))
    assert shared.status_code == 302 and shared.url == coach_url


def test_the_refund_policy_reads_the_bookings_window_not_the_coachs_current_one(
    coach, booking, make_card
):
    pay(booking, make_card())
    # Booked under a 24 h window; the coach later shrinks it to 2 h.
    from bookings.services import coach_profile_update

    profile = coach.coach_profile
    coach_profile_update(
        coach=coach,
        actor=coach,
        name=coach.name,
        bio=profile.bio,
        time_zone=profile.time_zone,
        cancellation_window_hours=2,
        buffer_minutes=0,
        booking_horizon_days=90,
        min_notice_hours=0,
    )
    twelve_hours_before = booking.starts_at - dt.timedelta(hours=12)
    amount = payment_services.cancellation_refund_amount(
        booking=booking, actor=booking.client, at=twelve_hours_before
    )
    assert amount == 0  # inside the booking's 24 h: no free cancellation
    assert (
        payment_services.cancellation_refund_amount(
            booking=booking,
            actor=booking.client,
            at=booking.starts_at - dt.timedelta(hours=25),
        )
        == 10000
    )


def test_coach_cancel_page_shows_the_share_under_the_bookings_refund_fee_rule(
    as_coach, booking, make_card
):
    pay(booking, make_card())
    Booking.objects.filter(pk=booking.pk).update(refund_fee_rule="platform_keeps")
    page = as_coach.get(reverse("coach:booking_cancel", args=[booking.pk]))
    # The platform keeps its CHF 15.00 fee: the coach's share bears the refund.
    assert page.context["coach_after"] == -1500
    assert "You then receive CHF -15.00 for this session." in page.content.decode()
