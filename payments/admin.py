"""Admin for the money side: read-only records, changes only through services.

No payment row can be added, edited or deleted here: a bare ``save()`` from a
form would overwrite what a webhook wrote meanwhile, and the ledger and
transitions are append-only. Admins act through the actions below, which
call the same services as the API and report each row's outcome.
"""

import json
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bookings.admin import BookingAdmin as BookingRecordAdmin
from bookings.exceptions import BookingError
from bookings.models import Booking
from money.amounts import MoneyError, format_money, parse_amount
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
from payments.services.balances import refund_split
from payments.services.events import webhook_event_replay
from payments.services.refunds import payment_refundable_amount


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


def money_column(field: str, description: str):
    """A read-only admin column showing ``field`` (minor units) as money:
    ``CHF 55.00``, never ``5500``."""

    @admin.display(description=description, ordering=field)
    def show(self, obj) -> str:
        value = getattr(obj, field)
        return "-" if value is None else format_money(value, obj.currency)

    show.__name__ = f"{field}_money"
    return show


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount_money", "refund"]
    readonly_fields = fields
    ordering = ["id"]
    amount_money = money_column("amount", _("Amount"))


class RefundInline(ReadOnlyInline):
    model = Refund
    amount_money = money_column("amount", _("Amount"))
    fields = [
        "created_at",
        "amount_money",
        "status",
        "reason",
        "note",
        "requested_by",
        "stripe_refund_id",
        "failure_reason",
    ]
    readonly_fields = fields
    ordering = ["created_at"]


# Shown as money (``CHF 55.00``); the columns hold minor units.
MONEY_COLUMNS = {
    "amount": _("Amount"),
    "net_amount": _("Net"),
    "vat_amount": _("VAT"),
    "platform_fee_amount": _("Platform fee"),
    "coach_amount": _("Coach's share"),
    "amount_received": _("Received"),
    "amount_refunded": _("Refunded"),
}
MONEY_FIELDS = [f"{field}_money" for field in MONEY_COLUMNS] + [
    "vat_rate_bps",
    "ledger_now",
]
STRIPE_FIELDS = [
    "stripe_links",
    "webhook_events",
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
        "intent_id",
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
        (_("Money"), {"fields": MONEY_FIELDS}),
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
    change_form_template = "admin/payments/payment/change_form.html"

    @admin.display(description=_("Intent"), ordering="stripe_payment_intent_id")
    def intent_id(self, payment: Payment) -> str:
        # Stripe ids exactly as Stripe writes them, in a code element.
        return format_html("<code>{}</code>", payment.stripe_payment_intent_id or "-")

    @admin.display(description=_("Now, from the ledger"))
    def ledger_now(self, payment: Payment) -> str:
        sums = ledger_sums(payment)
        return format_html(
            "{}: {} · {}: {} · {}: {}",
            gettext("Held"),
            format_money(sums["cash"], payment.currency),
            gettext("coach's share"),
            format_money(sums["coach"], payment.currency),
            gettext("platform fee"),
            format_money(sums["fee"], payment.currency),
        )

    @admin.display(description=_("At Stripe"))
    def stripe_links(self, payment: Payment) -> str:
        links = [
            (f"https://dashboard.stripe.com/test/payments/{quote(obj_id)}", obj_id)
            for obj_id in (payment.stripe_payment_intent_id,)
            if obj_id
        ]
        links += [
            (f"https://dashboard.stripe.com/test/customers/{quote(obj_id)}", obj_id)
            for obj_id in (payment.stripe_customer_id,)
            if obj_id
        ]
        if not links:
            return "-"
        return format_html_join(
            " · ",
            '<a href="{}" rel="noopener noreferrer"><code>{}</code></a>',
            links,
        )

    @admin.display(description=_("Webhook events"))
    def webhook_events(self, payment: Payment) -> str:
        events = list(webhook_events_for_payment(payment)[:50])
        if not events:
            return "-"
        return format_html_join(
            mark_safe("<br>"),  # a constant
            '<a href="{}"><code>{}</code></a> {} ({})',
            (
                (
                    reverse("admin:payments_webhookevent_change", args=[event.pk]),
                    event.stripe_event_id,
                    event.type,
                    event.status,
                )
                for event in events
            ),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Refund an amount (partial or full) with a reason, after a page that
        shows the effect: what the client gets back, and the coach's share
        and the platform fee after. Through ``services.payment_refund``."""
        if not self.has_money_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, object_id)
        if payment is None:
            raise Http404
        left = payment_refundable_amount(payment=payment)
        form = StaffRefundForm(
            request.POST or None, currency=payment.currency, left=left
        )
        preview = None
        if request.method == "POST" and form.is_valid():
            amount = form.cleaned_data["amount"]
            if request.POST.get("confirm") == "yes":
                return self._refund(
                    request, payment, amount, form.cleaned_data["reason"]
                )
            preview = refund_effect(payment, amount, left=left)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Refund %(payment)s") % {"payment": _label(payment)},
            "payment": payment,
            "form": form,
            "left": format_money(left, payment.currency),
            "preview": preview,
            "now": ledger_sums(payment),
            "received": format_money(payment.amount_received, payment.currency),
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)

    def _refund(self, request, payment: Payment, amount: int, reason: str):
        change_url = reverse("admin:payments_payment_change", args=[payment.pk])
        try:
            refund = services.payment_refund(
                payment=payment,
                amount=amount,
                reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
                note=f"{reason} (by {request.user.email} in the admin)",
                actor=request.user,
            )
        except ProviderUnavailable:
            self.message_user(
                request,
                gettext(
                    "Stripe did not answer. The refund is pending and its amount "
                    "reserved until its outcome is known."
                ),
                messages.WARNING,
            )
            return redirect(change_url)
        except PaymentError as exc:
            self.message_user(
                request,
                gettext("Not refunded: %(error)s") % {"error": exc.message},
                messages.ERROR,
            )
            return redirect(change_url)
        self.message_user(
            request,
            gettext("Refund of %(amount)s %(status)s.")
            % {
                "amount": format_money(refund.amount, refund.currency),
                "status": refund.get_status_display().lower(),
            },
            messages.SUCCESS
            if refund.status == Refund.Status.SUCCEEDED
            else messages.WARNING,
        )
        return redirect(change_url)

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


for _field, _label_text in MONEY_COLUMNS.items():
    setattr(PaymentAdmin, f"{_field}_money", money_column(_field, _label_text))


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # The detail page shows money, not minor units.
    exclude = ["amount"]
    readonly_fields = ["amount_display"]

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
        "payment_link",
        "payload_pretty",
    ]
    readonly_fields = fields

    @admin.display(description=_("Payment"))
    def payment_link(self, event: WebhookEvent) -> str:
        payment = payment_for_event(event)
        if payment is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:payments_payment_change", args=[payment.pk]),
            _label(payment),
        )

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


# --- Refund from the payment's page: parsing, effect -----------------------


class StaffRefundForm(forms.Form):
    """Amount (major units, up to what is left) and the reason for a refund."""

    amount = forms.CharField(label=_("Amount to refund"), max_length=20)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the refund."),
    )

    def __init__(self, *args, currency: str, left: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency, self.left = currency, left
        self.fields["amount"].help_text = gettext(
            "In %(currency)s. At most %(left)s is left to refund."
        ) % {"currency": currency, "left": format_money(left, currency)}

    def clean_amount(self) -> int:
        # The one bounded parser of amounts from outside, capped at what is left.
        try:
            return parse_amount(
                self.cleaned_data["amount"].strip(), self.currency, maximum=self.left
            )
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None


def ledger_sums(payment: Payment) -> dict[str, int]:
    """What the ledger holds for ``payment`` now: cash at Stripe, the coach's
    share and the platform fee (minor units)."""
    K = LedgerEntry
    sums = payment.ledger.aggregate(
        cash=Sum("amount", filter=Q(kind__in=K.CASH)),
        coach=Sum("amount", filter=Q(kind__in=K.COACH)),
        fee=Sum("amount", filter=Q(kind__in=K.PLATFORM)),
    )
    return {key: value or 0 for key, value in sums.items()}


def refund_effect(payment: Payment, amount: int, *, left: int) -> dict[str, str]:
    """The refund preview: the client's money back, and the coach's share and
    platform fee after, with the same split the ledger will book
    (``balances.refund_split``, under the booking's refund-fee rule)."""
    fee_back = refund_split(payment=payment, amount=amount).platform_fee
    now = ledger_sums(payment)
    money = lambda minor: format_money(minor, payment.currency)  # noqa: E731
    return {
        "amount": amount,
        "client_back": money(amount),
        "refunded_after": money(payment.amount_refunded + amount),
        "coach_before": money(now["coach"]),
        "coach_after": money(now["coach"] - (amount - fee_back)),
        "fee_before": money(now["fee"]),
        "fee_after": money(now["fee"] - fee_back),
        "full": amount >= left,
    }


def webhook_events_for_payment(payment: Payment) -> QuerySet[WebhookEvent]:
    """Stored Stripe events about this payment's intent (or its charges and
    refunds, which name the intent in their payload)."""
    intent = payment.stripe_payment_intent_id
    if not intent:
        return WebhookEvent.objects.none()
    return WebhookEvent.objects.filter(
        Q(payload__data__object__id=intent)
        | Q(payload__data__object__payment_intent=intent)
    ).order_by("received_at")


def payment_for_event(event: WebhookEvent) -> Payment | None:
    """The payment a stored event is about, if we know it."""
    obj = (event.payload or {}).get("data", {}).get("object", {}) or {}
    intent = (
        obj.get("payment_intent")
        if obj.get("object") != "payment_intent"
        else obj.get("id")
    )
    if not isinstance(intent, str) or not intent:
        return None
    return Payment.objects.filter(stripe_payment_intent_id=intent).first()


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
