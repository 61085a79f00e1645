"""Issue 9, items 3, 4, 5 and 7 in Chromium: a checkout that says what happens
before paying, one bank challenge for a new 3-D Secure card, paying again
after an abandoned challenge, and saved cards like a wallet.

Journeys start at ``/`` and go on by clicking (tests/browser/README.md).
Screenshots go to the test's temporary directory: they are looked at, not
committed (``make screenshots`` owns docs/).
"""

import datetime as dt
import re

import pytest

from payments import services
from payments.models import Payment, SavedPaymentMethod
from tests.browser import test_client_journeys as journeys
from tests.browser.test_client_journeys import (
    MASTERCARD,
    book_first_free_time,
    expect_paid,
    fill_card,
    nav,
    pay,
)
from tests.payments.conftest import DECLINED_AT_CHARGE, THREE_D_SECURE, VISA

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

# The client journeys' people and offerings.
client_user = journeys.client_user
coach = journeys.coach
offering = journeys.offering

# Reports every 3-D Secure dialog the page shows to the test (localstripe's
# stand-in adds one <div> per challenge, a SetupIntent's or a payment's); the
# count lives in the test, so it survives the page leaving for the booking.
REPORT_CHALLENGES = """
new MutationObserver(function (records) {
  records.forEach(function (record) {
    record.addedNodes.forEach(function (node) {
      if (node.nodeType === 1 && /3D Secure/.test(node.textContent || "")) {
        window.reportChallenge();
      }
    });
  });
}).observe(document, { childList: true, subtree: true });
"""


def count_challenges(page) -> list:
    """A list that gets one entry per bank challenge the page shows."""
    seen: list = []
    page.expose_function("reportChallenge", lambda: seen.append(page.url))
    page.add_init_script(REPORT_CHALLENGES)
    return seen


@pytest.fixture(autouse=True)
def stripe_js(settings, localstripe_url):
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"


def card_from_stripe(stripe_client, number: str, *, month: int, year: int) -> str:
    return stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": number,
                "exp_month": month,
                "exp_year": year,
                "cvc": "123",
            },
        }
    ).id


def expired_saved_card(user, last4: str = "0005") -> SavedPaymentMethod:
    """A card saved while valid that has expired since."""
    return SavedPaymentMethod.objects.create(
        user=user,
        stripe_payment_method_id=f"pm_expired_{last4}",
        brand="visa",
        last4=last4,
        exp_month=1,
        exp_year=2025,
    )


def back_to_checkout(page, booking) -> None:
    """From the front door, as a client coming back: My bookings, then Pay."""
    page.goto("/")
    nav(page).get_by_role("link", name="My bookings").click()
    page.get_by_role("button", name=f"Pay — {booking.offering.title}").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking.pk}/checkout/$"))


def boxes_overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


# --- items 3 and 4: what the checkout says; one challenge ----------------------------


def test_checkout_new_3ds_card_asks_the_bank_once_and_saves_the_card(
    page, login, client_user, coach, offering, stripe_client
):
    seen = count_challenges(page)
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)
    # Before paying: the cancellation policy with its deadline in the
    # viewer's zone, and what a decline means.
    # (The first free time may already be inside the 24-hour window.)
    expect(page.locator("[data-cancellation-policy]")).to_have_text(
        re.compile(
            r"^\s*(Free cancellation until \w{3} \d{1,2} \w{3}, \d\d:\d\d "
            r"\(Europe/Zurich\); after that, cancelling refunds nothing\."
            r"|This session starts within the 24-hour cancellation window: if you "
            r"cancel, nothing is refunded\.)\s*$"
        )
    )
    expect(
        page.get_by_text("If your card is declined, nothing is charged")
    ).to_be_visible()

    fill_card(page, THREE_D_SECURE)
    page.get_by_label("Save this card for next time").check()
    pay(page)
    page.get_by_role("button", name="Complete authentication").click()

    expect_paid(page, booking)
    assert len(seen) == 1
    saved = SavedPaymentMethod.objects.get(user=client_user)
    assert saved.last4 == "3184"
    payment = booking.payments.get()
    assert payment.stripe_payment_method_id == saved.stripe_payment_method_id


def test_checkout_failed_3ds_says_so_in_our_words(
    page, login, client_user, coach, offering
):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)
    fill_card(page, THREE_D_SECURE)
    pay(page)
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#card-error")).to_have_text(
        "Your bank did not confirm the payment, so nothing was charged. "
        "Try again or use another card."
    )
    fill_card(page, VISA)
    pay(page)
    expect_paid(page, booking)


def test_checkout_decline_says_nothing_was_charged(
    page, login, client_user, coach, offering
):
    login(page, client_user)
    book_first_free_time(page, coach, offering)
    fill_card(page, DECLINED_AT_CHARGE)
    pay(page)
    expect(page.locator("#card-error")).to_have_text(
        "Your card was declined. Nothing was charged. Try another card."
    )


# --- item 5: coming back after an abandoned challenge --------------------------------


def test_checkout_abandoned_challenge_then_paying_again_works(
    page, login, client_user, coach, offering, stripe_client
):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)
    fill_card(page, THREE_D_SECURE)
    pay(page)
    expect(page.get_by_role("button", name="Complete authentication")).to_be_visible()
    first = booking.payments.get()
    assert first.status == Payment.Status.REQUIRES_ACTION

    # The client walks away from the bank's dialog and comes back later.
    back_to_checkout(page, booking)
    fill_card(page, VISA)
    pay(page)

    expect_paid(page, booking)
    first.refresh_from_db()
    assert first.status == Payment.Status.CANCELED
    intent = stripe_client.v1.payment_intents.retrieve(first.stripe_payment_intent_id)
    assert intent.status == "canceled"
    charged = [
        c for c in stripe_client.v1.charges.list().data if c.status == "succeeded"
    ]
    assert len(charged) == 1


def test_checkout_challenge_answered_elsewhere_then_pay_again_shows_paid(
    page, login, client_user, coach, offering, stripe_client, localstripe_url
):
    """The bank's answer reached Stripe, but not us, before the client came
    back: paying again records that payment instead of charging again."""
    from tests.payments.test_services import authenticate_3ds

    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)
    fill_card(page, THREE_D_SECURE)
    pay(page)
    expect(page.get_by_role("button", name="Complete authentication")).to_be_visible()
    first = booking.payments.get()
    authenticate_3ds(
        localstripe_url,
        stripe_client.v1.payment_intents.retrieve(first.stripe_payment_intent_id),
        success=True,
    )

    back_to_checkout(page, booking)
    fill_card(page, VISA)
    pay(page)

    expect_paid(page, booking)
    first.refresh_from_db()
    assert first.status == Payment.Status.SUCCEEDED
    assert booking.payments.count() == 1
    charged = [
        c for c in stripe_client.v1.charges.list().data if c.status == "succeeded"
    ]
    assert len(charged) == 1


# --- item 7: the wallet --------------------------------------------------------------


def test_checkout_expired_card_is_marked_not_preselected_and_cards_do_not_overlap(
    page, login, client_user, coach, offering, make_card, tmp_path
):
    expired_saved_card(client_user)
    for number in (VISA, MASTERCARD):
        services.payment_method_attach(
            user=client_user,
            payment_method_id=make_card(number),
            make_default=False,
            actor=client_user,
        )
    # The expired card is the newest and was the default once.
    SavedPaymentMethod.objects.filter(user=client_user).update(is_default=False)
    SavedPaymentMethod.objects.filter(last4="0005").update(is_default=True)
    login(page, client_user)
    book_first_free_time(page, coach, offering)

    expired = page.get_by_label(re.compile(r"Visa •••• 0005"))
    expect(expired).to_be_disabled()
    expect(expired).not_to_be_checked()
    expect(page.locator(".card-expired .expired-badge")).to_have_text("Expired")
    expect(page.get_by_label(re.compile(r"•••• (4242|4444)")).first).to_be_visible()
    checked = page.locator("input[name=payment_method]:checked")
    expect(checked).to_have_count(1)
    assert checked.get_attribute("value") != "pm_expired_0005"

    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=tmp_path / f"checkout-cards-{label}.png", full_page=True)
        choices = page.locator(".card-choice")
        boxes = [choices.nth(i).bounding_box() for i in range(choices.count())]
        metas = page.locator(".card-choice-meta")
        for i in range(metas.count()):
            meta = metas.nth(i).bounding_box()
            owner = boxes[i]
            others = [box for j, box in enumerate(boxes) if j != i]
            assert meta["y"] + meta["height"] <= owner["y"] + owner["height"] + 0.5, (
                label
            )
            assert not any(boxes_overlap(meta, other) for other in others), label
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                assert not boxes_overlap(boxes[a], boxes[b]), label


def test_saved_cards_remove_asks_first_and_expired_cannot_be_default(
    page, login, client_user, make_card
):
    expired_saved_card(client_user)
    services.payment_method_attach(
        user=client_user,
        payment_method_id=make_card(VISA),
        make_default=True,
        actor=client_user,
    )
    login(page, client_user)
    page.goto("/")
    nav(page).get_by_role("link", name="Cards").click()

    old = page.locator(".saved-card", has_text="0005")
    expect(old.locator(".expired-badge")).to_have_text("Expired")
    expect(old.get_by_role("button", name="Make default")).to_have_count(0)

    current = page.locator(".saved-card", has_text="4242")
    confirm = current.get_by_role("button", name="Yes, remove this card")
    expect(confirm).to_be_hidden()
    current.get_by_role("button", name="Remove").click()
    expect(current.get_by_text("Remove Visa •••• 4242?")).to_be_visible()
    assert SavedPaymentMethod.objects.filter(last4="4242").exists()
    confirm.click()

    expect(page.locator(".saved-card")).to_have_count(1)
    expect(page.locator("[data-list-status]")).to_have_text(
        "Visa •••• 4242 was removed."
    )
    assert not SavedPaymentMethod.objects.filter(last4="4242").exists()


def test_saved_cards_remove_without_javascript_asks_first(
    new_context, login, client_user, make_card
):
    from tests import factories

    services.payment_method_attach(
        user=client_user,
        payment_method_id=make_card(VISA),
        make_default=True,
        actor=client_user,
    )
    page = new_context(java_script_enabled=False).new_page()
    login(page, client_user, password=factories.PASSWORD)
    nav(page).get_by_role("link", name="Cards").click()
    card = page.locator(".saved-card", has_text="4242")
    card.get_by_role("button", name="Remove").click()
    card.get_by_role("button", name="Yes, remove this card").click()

    expect(page.get_by_text("Visa •••• 4242 was removed.")).to_be_visible()
    assert not SavedPaymentMethod.objects.filter(user=client_user).exists()


# --- item 6: the booking page is the hub ---------------------------------------------


def test_booking_page_after_paying_offers_calendar_receipt_and_cancel(
    page, login, screenshot, client_user, coach, offering
):
    login(page, client_user)
    booking = book_first_free_time(page, coach, offering)
    fill_card(page, VISA)
    pay(page)
    expect_paid(page, booking)

    actions = page.get_by_role("navigation", name="This booking")
    expect(actions.get_by_role("link", name="Receipt")).to_be_visible()
    expect(actions.get_by_role("link", name="Cancel this booking")).to_be_visible()
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    screenshot(page, "client-booking-hub")

    with page.expect_download() as download:
        actions.get_by_role("button", name="Add to calendar").click()
    ics = download.value.path().read_bytes().decode()
    assert download.value.suggested_filename.endswith(".ics")
    assert f"UID:booking-{booking.pk}@coaching-payments\r\n" in ics
    start = booking.starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}\r\n" in ics
    assert "Anna Keller" in ics

    actions.get_by_role("link", name="Receipt").click()
    expect(page.get_by_role("row", name="Total paid CHF 100.00")).to_be_visible()


def test_saved_cards_failed_bank_check_is_told_in_our_words(page, login, client_user):
    login(page, client_user)
    page.goto("/")
    nav(page).get_by_role("link", name="Cards").click()
    fill_card(page, THREE_D_SECURE)
    page.get_by_role("button", name="Save card").click()
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#card-error")).to_have_text(
        "Your bank did not confirm the card, so it was not saved. "
        "Try again or use another card."
    )
    assert not SavedPaymentMethod.objects.filter(user=client_user).exists()
