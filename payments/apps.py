from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Bookings must not import payments: it announces ended holds through
        # a hook, and this one settles their money (cancels the open intent).
        from bookings import services as booking_services
        from payments import gateway, stripe_calls, tasks

        booking_services.on_hold_ended(tasks.enqueue_cancel_ended_hold_payments)
        # The gateway may not use the ORM: it reports each request to Stripe,
        # and this recorder keeps the row (STYLE.md: every call leaves one).
        gateway.register_call_recorder(stripe_calls.record_stripe_call)
