from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Accounts must not import bookings: a new coach's profile is made
        # through its hook, in the sign-up's transaction.
        from accounts import services as account_services
        from bookings import services

        account_services.on_coach_created(services.coach_profile_create)
