"""``manage.py seed_demo``: the demo accounts and offerings of DESIGN.md.

Idempotent: a row that already matches is not written again (its
``updated_at`` stays), a row that drifted is put back, and the documented
password is re-set only where it no longer works.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import models, transaction

from accounts.models import User
from bookings.models import AvailabilityWindow, CoachProfile, Offering

PASSWORD = "coaching-demo"

COACH_TERMS: dict[str, Any] = {
    "time_zone": "Europe/Zurich",
    "currency": "CHF",
    "vat_rate_bps": 810,
    "vat_included": True,
    "platform_fee_bps": 1500,
    "cancellation_window_hours": 24,
}
DAY_START, DAY_END = dt.time(7), dt.time(21)


@dataclass(frozen=True)
class DemoOffering:
    title: str
    duration_minutes: int
    price_amount: int  # Rappen, VAT included


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str
    bio: str = ""
    offerings: tuple[DemoOffering, ...] = ()

    @property
    def staff(self) -> bool:
        return self.role == User.Role.ADMIN


OFFERINGS = (
    DemoOffering("Deep-dive session", 60, 10000),
    DemoOffering("Quick check-in", 30, 5500),
)

USERS = (
    DemoUser("client@example.com", "Lena Brunner", User.Role.CLIENT),
    DemoUser("client2@example.com", "Jonas Meier", User.Role.CLIENT),
    DemoUser(
        "coach@example.com",
        "Anna Keller",
        User.Role.COACH,
        bio="Career coach: job changes, negotiations and first leadership roles.",
        offerings=OFFERINGS,
    ),
    DemoUser(
        "coach2@example.com",
        "Marco Rossi",
        User.Role.COACH,
        bio="Running and fitness coach for busy people, from first 5k to marathon.",
        offerings=OFFERINGS,
    ),
    DemoUser("admin@example.com", "Platform Admin", User.Role.ADMIN),
)


class Command(BaseCommand):
    help = "Create or repair the demo accounts and offerings (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.written = 0
        with transaction.atomic():
            for demo in USERS:
                user = self._user(demo)
                if demo.role == User.Role.COACH:
                    self._coach(user, demo)
        # Months of past sessions, a refund and a payout for the demo coach:
        # the payments app's command, called by name (bookings does not
        # import payments).
        call_command("seed_demo_history", stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({self.written} rows written). "
                f"Every account's password is {PASSWORD!r}."
            )
        )

    def _user(self, demo: DemoUser) -> User:
        user = User.objects.filter(email__iexact=demo.email).first()
        if user is None:
            create = (
                User.objects.create_superuser
                if demo.staff
                else User.objects.create_user
            )
            # Everyone in the demo reads times in the coaches' zone.
            user = create(
                demo.email,
                PASSWORD,
                name=demo.name,
                role=demo.role,
                time_zone=COACH_TERMS["time_zone"],
            )
            self.written += 1
            return user
        self._ensure(
            user,
            name=demo.name,
            role=demo.role,
            time_zone=COACH_TERMS["time_zone"],
            is_active=True,
            email_verified=True,
            is_staff=demo.staff,
            is_superuser=demo.staff,
        )
        if not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            self.written += 1
        return user

    def _coach(self, user: User, demo: DemoUser) -> None:
        profile, created = CoachProfile.objects.get_or_create(
            user=user, defaults={"bio": demo.bio, **COACH_TERMS}
        )
        if created:
            self.written += 1
        else:
            self._ensure(profile, bio=demo.bio, **COACH_TERMS)

        for weekday in AvailabilityWindow.Weekday.values:
            _, created = AvailabilityWindow.objects.get_or_create(
                coach=profile, weekday=weekday, start_time=DAY_START, end_time=DAY_END
            )
            self.written += created

        for item in demo.offerings:
            wanted = {
                "duration_minutes": item.duration_minutes,
                "price_amount": item.price_amount,
                "currency": COACH_TERMS["currency"],
                "active": True,
            }
            offering, created = Offering.objects.get_or_create(
                coach=user, title=item.title, defaults=wanted
            )
            if created:
                self.written += 1
            else:
                self._ensure(offering, **wanted)

    def _ensure(self, instance: models.Model, **wanted: Any) -> None:
        """Save only the fields that differ, so matching rows stay untouched."""
        changed = [
            name for name, value in wanted.items() if getattr(instance, name) != value
        ]
        if not changed:
            return
        for name in changed:
            setattr(instance, name, wanted[name])
        if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
            changed.append("updated_at")
        instance.full_clean()
        instance.save(update_fields=changed)
        self.written += 1
