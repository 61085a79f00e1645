"""Issue 9, item 6: the booked session as an iCalendar file (RFC 5545) on the
booking page and attached to the payment confirmation email."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client

from bookings.models import Booking
from payments import calendar, services
from payments.models import Notification
from payments.services.notifications import notification_create
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db


def unfold(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").split("\r\n")


def field(ics: str, name: str) -> str:
    [value] = [
        line.split(":", 1)[1]
        for line in unfold(ics)
        if line.split(":", 1)[0].split(";")[0] == name
    ]
    return value


@pytest.fixture
def paid_booking(booking, client_user, make_card):
    payment, _ = services.payment_create_intent(booking=booking, actor=client_user)
    services.payment_confirm(
        payment=payment, payment_method_id=make_card(VISA), actor=client_user
    )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    return booking


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the file ----------------------------------------------------------------------


def test_booking_ics_has_the_session_in_utc_with_coach_and_title(paid_booking):
    ics = calendar.booking_ics(booking=paid_booking, platform_name="Coaching")

    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", "")  # CRLF only
    start = paid_booking.starts_at.astimezone(dt.UTC)
    assert field(ics, "DTSTART") == start.strftime("%Y%m%dT%H%M%SZ")
    end = paid_booking.ends_at.astimezone(dt.UTC)
    assert field(ics, "DTEND") == end.strftime("%Y%m%dT%H%M%SZ")
    coach = paid_booking.coach.display_name
    assert field(ics, "SUMMARY") == calendar.escape_text(
        f"{paid_booking.offering.title} with {coach}"
    )
    assert field(ics, "UID") == f"booking-{paid_booking.pk}@coaching-payments"
    assert field(ics, "STATUS") == "CONFIRMED"
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))


def test_booking_ics_uid_is_stable(paid_booking):
    first = calendar.booking_ics(booking=paid_booking, platform_name="Coaching")
    again = calendar.booking_ics(booking=paid_booking, platform_name="Coaching")
    assert first == again


def test_escape_text_escapes_rfc5545_specials():
    assert calendar.escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"


def test_fold_splits_long_lines_at_75_octets_without_breaking_characters():
    line = "SUMMARY:" + "ü" * 100
    folded = calendar.fold(line)
    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line


def test_booking_ics_escapes_names(paid_booking):
    paid_booking.offering.title = "Career, money; and\\more"
    ics = calendar.booking_ics(booking=paid_booking, platform_name="Coaching")
    assert field(ics, "SUMMARY").startswith("Career\\, money\\; and\\\\more with ")


# --- the download --------------------------------------------------------------------


def test_booking_calendar_download_for_payer_and_coach(
    paid_booking, client_user, coach
):
    for user in (client_user, coach):
        response = browser_for(user).get(f"/bookings/{paid_booking.pk}/calendar.ics")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        assert re.match(
            r'attachment; filename="session-\d{4}-\d\d-\d\d\.ics"',
            response["Content-Disposition"],
        )
        assert "BEGIN:VEVENT" in response.content.decode()


@pytest.mark.parametrize("who", ["other_client", "admin_user", "other_coach"])
def test_booking_calendar_for_anyone_else_is_404(request, paid_booking, who):
    user = request.getfixturevalue(who)
    response = browser_for(user).get(f"/bookings/{paid_booking.pk}/calendar.ics")
    assert response.status_code == 404


def test_booking_calendar_of_an_unpaid_booking_is_404(booking, client_user):
    response = browser_for(client_user).get(f"/bookings/{booking.pk}/calendar.ics")
    assert response.status_code == 404


def test_booking_calendar_anonymous_goes_to_login(paid_booking):
    response = Client().get(f"/bookings/{paid_booking.pk}/calendar.ics")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- the booking page, the hub -------------------------------------------------------


def test_booking_page_links_receipt_calendar_cancel_and_says_what_next(
    paid_booking, client_user
):
    page = browser_for(client_user).get(f"/bookings/{paid_booking.pk}/").content
    html = page.decode()
    assert f'href="/bookings/{paid_booking.pk}/calendar.ics"' in html
    assert f'href="/bookings/{paid_booking.pk}/receipt/"' in html
    assert f'href="/bookings/{paid_booking.pk}/cancel/"' in html
    assert "What happens next" in html
    assert "Free cancellation until" in html


def test_booking_page_for_admin_has_no_calendar_link(paid_booking, admin_user):
    html = browser_for(admin_user).get(f"/bookings/{paid_booking.pk}/").content.decode()
    assert "calendar.ics" not in html
    assert "What happens next" not in html


def test_booking_page_unpaid_offers_paying_not_calendar(booking, client_user):
    html = browser_for(client_user).get(f"/bookings/{booking.pk}/").content.decode()
    assert f'href="/bookings/{booking.pk}/checkout/"' in html
    assert "calendar.ics" not in html


# --- the email -----------------------------------------------------------------------


def test_payment_confirmation_email_has_the_ics_attached(
    paid_booking, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        notification_create(
            booking_id=paid_booking.pk,
            kind=Notification.Kind.PAYMENT_SUCCEEDED,
            dedupe_key="again",
        )

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        [(name, content, mimetype)] = message.attachments
        assert name.endswith(".ics")
        assert mimetype == "text/calendar; charset=utf-8"
        assert field(content, "UID") == f"booking-{paid_booking.pk}@coaching-payments"


def test_other_notification_emails_have_no_attachment(
    booking, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification_create(
            booking_id=booking.pk, kind=Notification.Kind.HOLD_EXPIRED, dedupe_key="x"
        )
    assert mail.outbox
    assert all(not message.attachments for message in mail.outbox)
