"""In-app notifications and their emails, to the payer and the coach."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.zones import format_when, user_zone_name
from bookings.models import Booking
from money.amounts import format_money
from payments import calendar
from payments.models import Notification

logger = logging.getLogger("payments")

K = Notification.Kind

_TITLES = {
    K.PAYMENT_SUCCEEDED: _("Payment received"),
    K.PAYMENT_FAILED: _("Payment failed"),
    K.REFUNDED: _("Refund issued"),
    K.HOLD_EXPIRED: _("Booking released"),
    K.DISPUTE_OPENED: _("Payment disputed"),
    K.BOOKING_CANCELLED: _("Booking cancelled"),
}


def _body(
    kind: str, booking: Booking, *, recipient, for_coach: bool, refunded: int | None
) -> str:
    """The text of one notification, for one recipient: the session's time in
    the recipient's zone (named), the amounts in the booking's currency."""
    when = format_when(booking.starts_at, user_zone_name(recipient))
    session = _("%(title)s on %(when)s") % {
        "title": booking.offering.title,
        "when": when,
    }
    price = format_money(booking.price_gross, booking.currency)
    who = booking.client.display_name if for_coach else booking.coach.display_name
    values = {"price": price, "session": session, "who": who}
    if kind == K.BOOKING_CANCELLED:
        return _cancelled_body(booking, values, for_coach=for_coach)
    if kind == K.REFUNDED and refunded is not None:
        values["refunded"] = format_money(refunded, booking.currency)
        if refunded >= booking.price_gross:
            return _("%(refunded)s refunded for %(session)s with %(who)s.") % values
        return (
            _("%(refunded)s of %(price)s refunded for %(session)s with %(who)s.")
            % values
        )
    return {
        K.PAYMENT_SUCCEEDED: _("%(price)s paid for %(session)s with %(who)s."),
        K.PAYMENT_FAILED: _(
            "The payment of %(price)s for %(session)s with %(who)s did not go through. "
            "The booking stays reserved until its hold runs out."
        ),
        K.REFUNDED: _("Money was refunded for %(session)s with %(who)s."),
        K.HOLD_EXPIRED: _(
            "%(session)s with %(who)s was not paid in time and has been released."
        ),
        K.DISPUTE_OPENED: _(
            "The payment of %(price)s for %(session)s with %(who)s is disputed by the "
            "card holder's bank."
        ),
    }[kind] % values


def _cancelled_body(booking: Booking, values: dict, *, for_coach: bool) -> str:
    """A cancellation by the coach: the client reads the coach's reason and
    that they get everything back; the coach gets a copy."""
    if for_coach:
        text = _("You cancelled %(session)s with %(who)s.") % values
    else:
        text = _("%(who)s cancelled %(session)s.") % values
    if booking.cancel_reason:
        text += " " + _("Reason: “%(reason)s”") % {"reason": booking.cancel_reason}
    if not for_coach and booking.status != Booking.Status.PENDING_PAYMENT:
        paid = booking.status in (Booking.Status.CANCELLED, Booking.Status.REFUNDED)
        if paid and booking.payments.filter(amount_received__gt=0).exists():
            text += " " + _("Everything you paid is refunded to your card.")
    return text


def notification_create(
    *, booking_id, kind: str, dedupe_key: str = "", refunded: int | None = None
) -> list[Notification]:
    """Notify the booking's client and coach once per (kind, dedupe key).

    Each text is written for its recipient (times in their zone, named);
    ``refunded`` is what has been refunded of the payment in all, in minor
    units, for a refund notification.

    Emails are sent by the ``send_notification`` task after commit; a repeated
    call (retried task, replayed event) creates and sends nothing new.
    """
    booking = Booking.objects.select_related("client", "coach", "offering").get(
        pk=booking_id
    )
    created = []
    for recipient, for_coach in ((booking.client, False), (booking.coach, True)):
        try:
            with transaction.atomic():
                note = Notification.objects.create(
                    recipient=recipient,
                    kind=kind,
                    booking=booking,
                    dedupe_key=dedupe_key,
                    title=str(_TITLES[kind]),
                    body=_body(
                        kind,
                        booking,
                        recipient=recipient,
                        for_coach=for_coach,
                        refunded=refunded,
                    ),
                )
        except IntegrityError:
            continue  # already notified
        created.append(note)
        transaction.on_commit(lambda pk=note.pk: _enqueue_email(pk), robust=True)
    return created


def notification_enqueue(
    *, booking_id, kind: str, dedupe_key: str = "", refunded: int | None = None
) -> None:
    """Have ``notification_create`` run in a task (inline without a broker).

    Called after commit: the change is final, its notifications follow. The
    task is payments.tasks' (queued through the ``on_create_due`` hook).
    """
    for hook in _CREATE_HOOKS:
        hook(str(booking_id), kind, dedupe_key, refunded)


# How notifications and their emails go out after commit. The Celery tasks
# live in payments.tasks, which imports the services, so the services cannot
# import them: payments.apps registers them here (``on_create_due``,
# ``on_email_due``) when the app starts.
_CREATE_HOOKS: list[Callable[[str, str, str, int | None], None]] = []
_EMAIL_HOOKS: list[Callable[[str], None]] = []


def on_create_due(hook: Callable[[str, str, str, int | None], None]) -> None:
    """Call ``hook(booking_id, kind, dedupe_key, refunded)`` for each
    ``notification_enqueue``. Registering the same hook twice registers it
    once."""
    if hook not in _CREATE_HOOKS:
        _CREATE_HOOKS.append(hook)


def on_email_due(hook: Callable[[str], None]) -> None:
    """Call ``hook(notification_id)`` after commit for each new notification.

    Registering the same hook twice registers it once.
    """
    if hook not in _EMAIL_HOOKS:
        _EMAIL_HOOKS.append(hook)


def _enqueue_email(notification_pk) -> None:
    for hook in _EMAIL_HOOKS:
        hook(str(notification_pk))


def notification_send_email(*, notification_pk) -> bool:
    """Email one notification (plain text and HTML). Idempotent.

    A payment confirmation also carries the session as an ``.ics`` file.
    """
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(of=("self",))
            .select_related(
                "recipient", "booking__coach", "booking__client", "booking__offering"
            )
            .get(pk=notification_pk)
        )
        if note.emailed_at is not None:
            return False
        context = {"notification": note, "recipient": note.recipient}
        email = EmailMultiAlternatives(
            subject=note.title,
            body=render_to_string("payments/email/notification.txt", context),
            to=[note.recipient.email],
        )
        email.attach_alternative(
            render_to_string("payments/email/notification.html", context), "text/html"
        )
        if note.kind == K.PAYMENT_SUCCEEDED:
            # The confirmation carries the session for the recipient's
            # calendar: the same event (same UID) as the booking page's file.
            email.attach(
                calendar.ics_filename(note.booking),
                calendar.booking_ics(
                    booking=note.booking, platform_name=settings.PLATFORM_NAME
                ),
                calendar.CONTENT_TYPE,
            )
        email.send()
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    logger.info("notification.emailed notification=%s kind=%s", note.pk, note.kind)
    return True


def notification_mark_read(*, notification: Notification, actor) -> Notification:
    """Mark one of the actor's notifications as read."""
    if notification.recipient_id != actor.pk:
        raise Notification.DoesNotExist
    if not notification.read:
        notification.read = True
        notification.save(update_fields=["read"])
    return notification
