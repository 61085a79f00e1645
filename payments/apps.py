from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Bookings must not import payments: it announces ended holds through
        # a hook, and this one settles their money (cancels the open intent).
        from bookings import services as booking_services
        from payments import tasks

        booking_services.on_hold_ended(tasks.enqueue_cancel_ended_hold_payments)
