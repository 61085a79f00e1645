"""Data for bench/hotpaths.py, run in the bench's environment:

    python bench/hotpaths_data.py OUT.json COUNT

Makes COUNT unpaid bookings of client@example.com with coach@example.com,
each with an open payment (``requires_payment_method``, a made-up intent
id), with ``bulk_create`` so thousands take seconds; writes their ids, intent
ids and amounts and a long-lived access token of the client to OUT.json.
Each succeeded event the bench sends moves one of them, once.
"""

import datetime as dt
import json
import os
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coaching.settings")

import django

django.setup()

from django.utils import timezone  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import User  # noqa: E402
from bookings.models import Booking, Offering  # noqa: E402
from money.pricing import PriceTerms, breakdown  # noqa: E402
from payments.models import Payment  # noqa: E402


def main(out: str, count: int) -> None:
    client = User.objects.get(email="client@example.com")
    coach = User.objects.get(email="coach@example.com")
    offering = Offering.objects.filter(coach=coach, duration_minutes=60).first()
    profile = coach.coach_profile
    price = breakdown(
        PriceTerms(
            amount=offering.price_amount,
            currency=profile.currency,
            vat_rate_bps=profile.vat_rate_bps,
            vat_included=profile.vat_included,
            platform_fee_bps=profile.platform_fee_bps,
        )
    )
    first = timezone.now() + dt.timedelta(days=400)
    bookings, payments = [], []
    for i in range(count):
        starts = first + dt.timedelta(hours=2 * i)
        booking = Booking(
            client=client,
            coach=coach,
            offering=offering,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=60),
            status=Booking.Status.PENDING_PAYMENT,
            expires_at=timezone.now() + dt.timedelta(days=2),
            currency=profile.currency,
            price_base=price.base,
            price_gross=price.gross,
            price_net=price.net,
            vat_amount=price.vat,
            vat_rate_bps=profile.vat_rate_bps,
            vat_included=profile.vat_included,
            platform_fee_amount=price.platform_fee,
            platform_fee_bps=profile.platform_fee_bps,
            coach_amount=price.coach_amount,
            cancellation_window_hours=profile.cancellation_window_hours,
        )
        bookings.append(booking)
        payments.append(
            Payment(
                booking=booking,
                payer=client,
                recipient=coach,
                status=Payment.Status.REQUIRES_PAYMENT_METHOD,
                currency=profile.currency,
                amount=price.gross,
                net_amount=price.net,
                vat_amount=price.vat,
                vat_rate_bps=profile.vat_rate_bps,
                platform_fee_amount=price.platform_fee,
                coach_amount=price.coach_amount,
                stripe_payment_intent_id=f"pi_{secrets.token_hex(12)}",
            )
        )
    Booking.objects.bulk_create(bookings, batch_size=1000)
    Payment.objects.bulk_create(payments, batch_size=1000)
    Path(out).write_text(
        json.dumps(
            {
                "token": str(AccessToken.for_user(client)),
                "payments": [
                    [str(p.booking_id), str(p.pk), p.stripe_payment_intent_id, p.amount]
                    for p in payments
                ],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
