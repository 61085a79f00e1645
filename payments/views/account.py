"""The client's account pages: saved cards and notifications."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.decorators import login_required
from payments import selectors, services
from payments.exceptions import PaymentError, PaymentNotFound
from payments.models import SavedPaymentMethod
from payments.services import notifications as notification_services


@require_GET
@login_required
@vary_on_headers("HX-Request")
def payment_method_list(request: HttpRequest) -> HttpResponse:
    """The user's saved cards; adding one needs JavaScript (Stripe.js)."""
    return _payment_methods_response(request)


@require_POST
@login_required
def payment_method_default(request: HttpRequest, method_id: str) -> HttpResponse:
    """Make one of the user's saved cards the default."""
    return _payment_method_change(
        request,
        method_id,
        services.payment_method_set_default,
        _("%(card)s is now your default card."),
    )


@require_POST
@login_required
def payment_method_delete(request: HttpRequest, method_id: str) -> HttpResponse:
    """Remove a saved card; if it was the default, the newest other card is."""
    # Named before it goes: the message needs its brand and last digits.
    method = (
        selectors.payment_methods_for_user(user=request.user)
        .filter(stripe_payment_method_id=method_id)
        .first()
    )
    if method is None:
        raise Http404
    return _payment_method_change(
        request,
        method_id,
        services.payment_method_detach,
        _("%(card)s was removed."),
        method=method,
    )


def _payment_method_change(
    request: HttpRequest,
    method_id: str,
    service,
    done: str,
    *,
    method: SavedPaymentMethod | None = None,
) -> HttpResponse:
    """Apply a card service to one of the user's cards and answer with the list.

    ``done`` names the card (``method``, else the one the service returns). A
    card the user does not have is a 404; a refusal is shown next to the card.
    """
    try:
        changed = service(
            user=request.user, payment_method_id=method_id, actor=request.user
        )
    except PaymentNotFound:
        raise Http404 from None
    except PaymentError as exc:
        return _payment_methods_response(
            request, error=exc.message, error_for=method_id, status=exc.http_status
        )
    return _payment_methods_response(
        request, message=done % {"card": _card_name(method or changed)}
    )


def stripe_js_context() -> dict:
    """What pages that take a card need: Stripe.js's URL (its origin is in the
    CSP), the publishable key, and whether it is localstripe's stand-in, which
    needs ``static/js/localstripe-shim.js`` next to htmx."""
    return {
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_stand_in": not settings.STRIPE_JS_URL.startswith(
            "https://js.stripe.com/"
        ),
    }


def _card_name(method: SavedPaymentMethod) -> str:
    return f"{method.brand.title()} •••• {method.last4}"


def _payment_methods_response(
    request: HttpRequest,
    *,
    message: str = "",
    error: str = "",
    error_for: str = "",
    status: int = 200,
) -> HttpResponse:
    """The page, or for htmx its card list; a plain POST redirects back."""
    htmx = request.htmx and not request.htmx.history_restore_request
    if request.method == "POST" and not htmx:
        if message:
            messages.success(request, message)
        if error:
            messages.error(request, error)
        return redirect("account:payment_methods")
    context = {
        "methods": selectors.payment_methods_for_user(user=request.user),
        "message": message,
        "error": error,
        "error_for": error_for,
        **stripe_js_context(),
    }
    template = (
        "payments/partials/_payment_method_list.html"
        if htmx
        else "payments/payment_methods.html"
    )
    return render(request, template, context, status=status)


NOTIFICATIONS_PER_PAGE = 20


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first, 20 a page."""
    page = Paginator(
        selectors.notification_list_for_user(user=request.user),
        NOTIFICATIONS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/notifications.html",
        {"page_obj": page, "notifications": page.object_list},
    )


@require_POST
@login_required
def notification_read(request: HttpRequest, notification_id) -> HttpResponse:
    """Mark one notification read; htmx gets the updated item and nav count."""
    notification = selectors.notification_get_for_user(
        user=request.user, notification_id=notification_id
    )
    if notification is None:
        raise Http404
    notification_services.notification_mark_read(
        notification=notification, actor=request.user
    )
    if request.htmx:
        return render(
            request,
            "payments/partials/_notification_read.html",
            {"notification": notification},
        )
    return redirect(_notifications_page(request))


@require_POST
@login_required
def notification_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of the user read."""
    unread = selectors.notification_list_for_user(user=request.user).filter(read=False)
    for notification in unread:
        notification_services.notification_mark_read(
            notification=notification, actor=request.user
        )
    messages.success(request, _("All notifications are marked as read."))
    return redirect(_notifications_page(request))


def _notifications_page(request: HttpRequest) -> str:
    url = reverse("account:notifications")
    page = request.POST.get("page", "")
    return f"{url}?page={page}" if page.isdigit() else url
