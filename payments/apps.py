from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Bookings must not import payments: it announces ended holds through
        # a hook, and this one settles their money (cancels the open intent).
        from bookings import services as booking_services
        from payments import gateway, realtime, stripe_calls, tasks
        from payments.services import notifications

        booking_services.on_hold_ended(tasks.enqueue_cancel_ended_hold_payments)
        # The services cannot import the tasks (the tasks import them): a
        # change's notifications, and each one's email, are queued through
        # these hooks.
        notifications.on_email_due(tasks.enqueue_notification_email)
        notifications.on_create_due(tasks.enqueue_create_notifications)
        # A booking's live message carries its payment's status too: payments
        # composes and pushes it (once per transaction, after commit) whenever
        # bookings announces a change.
        booking_services.on_booking_changed(realtime.broadcast_booking_on_commit)
        # The gateway may not use the ORM: it reports each request to Stripe,
        # and this recorder keeps the row (STYLE.md: every call leaves one).
        gateway.register_call_recorder(stripe_calls.record_stripe_call)
