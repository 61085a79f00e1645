"""Admin for the money side: read-only records, changes only through services.

No payment row can be added, edited or deleted here: a bare ``save()`` from a
form would overwrite what a webhook wrote meanwhile, and the ledger and
transitions are append-only. Admins act through the actions below, which
call the same services as the API and report each row's outcome.
"""

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bookings.admin import BookingAdmin as BookingRecordAdmin
from bookings.exceptions import BookingError
from bookings.models import Booking
from money.amounts import format_money
from payments import services
from payments.exceptions import PaymentError, ProviderUnavailable
from payments.models import (
    LedgerEntry,
    Notification,
    Payment,
    PaymentTransition,
    Refund,
    SavedPaymentMethod,
    StripeCustomer,
    WebhookEvent,
)
from payments.services.events import webhook_event_replay


class ReadOnlyMixin:
    """Viewable, never added, edited or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MoneyActionsMixin:
    """Actions that move money or replay Stripe: admins (role and staff) only."""

    def has_money_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and getattr(user, "is_admin", False))


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class PaymentTransitionInline(ReadOnlyInline):
    model = PaymentTransition
    fields = [
        "version",
        "created_at",
        "from_status",
        "to_status",
        "cause",
        "actor",
        "stripe_event_id",
    ]
    readonly_fields = fields
    ordering = ["version"]


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "currency", "refund"]
    readonly_fields = fields
    ordering = ["id"]


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = [
        "created_at",
        "amount",
        "currency",
        "status",
        "reason",
        "note",
        "requested_by",
        "stripe_refund_id",
        "failure_reason",
    ]
    readonly_fields = fields
    ordering = ["created_at"]


MONEY_FIELDS = [
    "currency",
    "amount",
    "net_amount",
    "vat_amount",
    "vat_rate_bps",
    "platform_fee_amount",
    "coach_amount",
    "amount_received",
    "amount_refunded",
]
STRIPE_FIELDS = [
    "stripe_payment_intent_id",
    "stripe_customer_id",
    "stripe_payment_method_id",
    "stripe_destination_account_id",
    "card_brand",
    "card_last4",
    "last_error_code",
    "last_error_message",
]


def _label(payment: Payment) -> str:
    return f"{payment.stripe_payment_intent_id or payment.pk} ({payment.payer})"


@admin.register(Payment)
class PaymentAdmin(MoneyActionsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "stripe_payment_intent_id",
        "payer",
        "recipient",
        "status",
        "gross",
        "refunded",
    ]
    list_filter = ["status", "currency", "created_at"]
    list_select_related = ["payer", "recipient"]
    search_fields = [
        "stripe_payment_intent_id",
        "payer__email",
        "recipient__email",
        "booking__id",
    ]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {"fields": ["id", "status", "version", "booking", "payer", "recipient"]},
        ),
        (_("Money (minor units)"), {"fields": MONEY_FIELDS}),
        (_("Stripe"), {"fields": STRIPE_FIELDS}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "id",
        "status",
        "version",
        "booking",
        "payer",
        "recipient",
        *MONEY_FIELDS,
        *STRIPE_FIELDS,
        "created_at",
        "updated_at",
    ]
    inlines = [PaymentTransitionInline, RefundInline, LedgerEntryInline]
    # Below the inlines: one timeline of every record of the payment
    # (selectors.payment_timeline), in the order things happened.
    change_form_template = "admin/payments/payment/change_form.html"
    actions = ["refund_in_full", "resync_from_stripe"]

    @admin.display(description=_("Amount"), ordering="amount")
    def gross(self, payment: Payment) -> str:
        return format_money(payment.amount, payment.currency)

    @admin.display(description=_("Refunded"), ordering="amount_refunded")
    def refunded(self, payment: Payment) -> str:
        return format_money(payment.amount_refunded, payment.currency)

    @admin.action(description=_("Refund in full"), permissions=["money"])
    def refund_in_full(self, request: HttpRequest, queryset: QuerySet[Payment]):
        for payment in queryset.select_related("payer").order_by("created_at"):
            try:
                refund = services.payment_refund(
                    payment=payment,
                    amount=None,
                    # Stripe's reasons are duplicate, fraudulent or this one;
                    # an admin's full refund is a goodwill or support case.
                    reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
                    note=f"Refunded in full by {request.user.email} in the admin.",
                    actor=request.user,
                )
            except ProviderUnavailable:
                self.message_user(
                    request,
                    gettext(
                        "%(payment)s: Stripe did not answer. The refund is pending "
                        "and its amount reserved until its outcome is known."
                    )
                    % {"payment": _label(payment)},
                    messages.WARNING,
                )
                continue
            except PaymentError as exc:
                self.message_user(
                    request,
                    gettext("%(payment)s: not refunded: %(error)s")
                    % {"payment": _label(payment), "error": exc.message},
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                gettext("%(payment)s: refund of %(amount)s %(status)s.")
                % {
                    "payment": _label(payment),
                    "amount": format_money(refund.amount, refund.currency),
                    "status": refund.get_status_display().lower(),
                },
                messages.SUCCESS
                if refund.status == Refund.Status.SUCCEEDED
                else messages.WARNING,
            )

    @admin.action(description=_("Re-sync from Stripe"), permissions=["money"])
    def resync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Payment]):
        for payment in queryset.select_related("payer").order_by("created_at"):
            before = payment.status
            if not payment.stripe_payment_intent_id:
                self.message_user(
                    request,
                    gettext("%(payment)s: has no intent at Stripe yet.")
                    % {"payment": _label(payment)},
                    messages.WARNING,
                )
                continue
            try:
                after = services.payment_refresh_from_stripe(
                    payment=payment, cause="admin_resync", actor=request.user
                )
            except PaymentError as exc:
                self.message_user(
                    request,
                    gettext("%(payment)s: not re-synced: %(error)s")
                    % {"payment": _label(payment), "error": exc.message},
                    messages.ERROR,
                )
                continue
            if after.status != before:
                message = gettext("%(payment)s: %(before)s -> %(after)s.")
                level = messages.SUCCESS
            else:
                message = gettext("%(payment)s: unchanged (%(after)s).")
                level = messages.INFO
            self.message_user(
                request,
                message
                % {"payment": _label(payment), "before": before, "after": after.status},
                level,
            )


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "payment",
        "amount_display",
        "status",
        "reason",
        "requested_by",
        "stripe_refund_id",
    ]
    list_filter = ["status", "reason", "currency", "created_at"]
    list_select_related = ["payment", "requested_by"]
    search_fields = [
        "stripe_refund_id",
        "payment__stripe_payment_intent_id",
        "payment__payer__email",
        "payment__recipient__email",
    ]
    date_hierarchy = "created_at"

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)


@admin.register(WebhookEvent)
class WebhookEventAdmin(MoneyActionsMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "attempts",
        "received_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id"]
    date_hierarchy = "received_at"
    fields = [
        "stripe_event_id",
        "type",
        "object_id",
        "status",
        "attempts",
        "last_error",
        "last_traceback",
        "next_attempt_at",
        "locked_until",
        "livemode",
        "stripe_created_at",
        "received_at",
        "processed_at",
        "payload_pretty",
    ]
    readonly_fields = fields
    actions = ["replay"]

    @admin.display(description=_("Object"))
    def object_id(self, event: WebhookEvent) -> str:
        return event.object_id

    @admin.display(description=_("Payload"))
    def payload_pretty(self, event: WebhookEvent) -> str:
        text = json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    @admin.action(description=_("Replay"), permissions=["money"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]):
        for pk, event_id in queryset.order_by("received_at").values_list(
            "pk", "stripe_event_id"
        ):
            row = webhook_event_replay(event_pk=pk, actor=request.user)
            if row.status in (
                WebhookEvent.Status.PROCESSED,
                WebhookEvent.Status.IGNORED,
            ):
                self.message_user(
                    request,
                    gettext("%(event)s: %(status)s.")
                    % {"event": event_id, "status": row.status},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("%(event)s: %(status)s: %(error)s")
                    % {
                        "event": event_id,
                        "status": row.status,
                        "error": row.last_error,
                    },
                    messages.ERROR,
                )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "recipient",
        "kind",
        "title",
        "booking",
        "read",
        "emailed_at",
    ]
    list_filter = ["kind", "read", "created_at"]
    list_select_related = ["recipient", "booking__offering"]
    search_fields = ["recipient__email", "title", "booking__id"]
    date_hierarchy = "created_at"


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "stripe_customer_id"]


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "user",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
        "created_at",
    ]
    list_filter = ["brand", "is_default"]
    list_select_related = ["user"]
    search_fields = ["user__email", "stripe_payment_method_id", "last4"]


# Bookings' admin page with the action that settles money: bookings never
# imports payments, so the payments app registers the page again with it.
admin.site.unregister(Booking)


@admin.register(Booking)
class BookingAdmin(BookingRecordAdmin):
    actions = ["cancel_unpaid"]

    @admin.action(description=_("Cancel selected unpaid bookings"))
    def cancel_unpaid(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        done = 0
        for booking in queryset:
            if booking.status == Booking.Status.CONFIRMED:
                # Paid: cancelling refunds, which deserves the booking's own
                # cancel page (it shows the refund first), not a bulk action.
                self.message_user(
                    request,
                    _(
                        "%(booking)s: this booking is paid; cancel it from its "
                        "page, which shows the refund first."
                    )
                    % {"booking": booking},
                    messages.WARNING,
                )
                continue
            try:
                # The one cancel path: it also cancels the hold's open
                # payment intent at Stripe.
                services.booking_cancel_with_refund(booking=booking, actor=request.user)
            except (BookingError, PaymentError) as exc:
                self.message_user(
                    request, f"{booking}: {exc.message}", messages.WARNING
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("Cancelled %d booking.", "Cancelled %d bookings.", done)
                % done,
                messages.SUCCESS,
            )
