"""Shared factory_boy factories. Demo-like defaults: CHF, VAT 8.1 % included, 15 % fee."""

import datetime as dt

import factory

from accounts.models import User
from bookings.models import AvailabilityWindow, CoachProfile, Offering

PASSWORD = "coaching-test-pw-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    role = User.Role.CLIENT
    # The coaches' zone too, so a booking reads the same for both by default.
    time_zone = "Europe/Zurich"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ClientFactory(UserFactory):
    role = User.Role.CLIENT


class AdminFactory(UserFactory):
    role = User.Role.ADMIN
    is_staff = True
    is_superuser = True


class CoachFactory(UserFactory):
    """A coach with a profile available every day 07:00-21:00 Europe/Zurich."""

    role = User.Role.COACH

    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):
        if not create:
            return
        profile = CoachProfileFactory(user=obj, **kwargs)
        for weekday in range(7):
            AvailabilityWindow.objects.create(
                coach=profile,
                weekday=weekday,
                start_time=dt.time(7),
                end_time=dt.time(21),
            )


class CoachProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoachProfile

    bio = "Helps people get unstuck."
    time_zone = "Europe/Zurich"
    currency = "CHF"
    vat_rate_bps = 810
    vat_included = True
    platform_fee_bps = 1500
    cancellation_window_hours = 24


class OfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offering

    coach = factory.SubFactory(CoachFactory)
    title = "Coaching session"
    duration_minutes = 60
    price_amount = 10000
    currency = "CHF"
    active = True
