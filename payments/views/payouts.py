"""Staff record manual payouts (bank transfers) against coaches' available
balances: for coaches without a connected Stripe account."""

import re

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.decorators import staff_required
from accounts.models import User
from bookings.models import CoachProfile
from coaching.errors import DomainError
from money.amounts import MoneyError, exponent, format_money, to_minor
from payments.models import Payout
from payments.services import balances, payouts

# Major units as staff type them: ASCII digits, at most the currency's
# decimals, bounded length (never Decimal arithmetic on raw input).
_AMOUNT_RE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,3})?$")


class PayoutForm(forms.Form):
    coach = forms.ModelChoiceField(
        queryset=User.objects.filter(coach_profile__isnull=False),
        label=gettext_lazy("Coach"),
    )
    currency = forms.CharField(max_length=3, label=gettext_lazy("Currency"))
    amount = forms.CharField(max_length=13, label=gettext_lazy("Amount"))
    bank_reference = forms.CharField(
        max_length=100, label=gettext_lazy("Bank reference")
    )
    paid_on = forms.DateField(label=gettext_lazy("Paid on"))

    def clean(self):
        data = super().clean()
        raw, currency = data.get("amount", ""), data.get("currency", "")
        try:
            if not _AMOUNT_RE.match(raw or ""):
                raise MoneyError(raw)
            data["currency"] = currency.upper()
            decimals = raw.partition(".")[2]
            if len(decimals) > exponent(currency):
                raise MoneyError(raw)
            data["amount_minor"] = to_minor(raw, currency)
        except MoneyError:
            self.add_error(
                "amount", _("Give the amount like 120.50, in the currency's units.")
            )
        return data


def _rows() -> list[dict]:
    rows = []
    for profile in CoachProfile.objects.select_related("user").order_by("user__name"):
        coach = profile.user
        for currency in balances.coach_balance_currencies(coach=coach) or [
            profile.currency
        ]:
            rows.append(
                {
                    "coach": coach,
                    "connected": bool(profile.stripe_account_id),
                    "balances": balances.coach_balances(coach=coach, currency=currency),
                }
            )
    return rows


@require_http_methods(["GET", "POST"])
@staff_required
@never_cache
def staff_payouts(request: HttpRequest) -> HttpResponse:
    """Each coach's pending, available and paid-out balance; record a payout."""
    form = PayoutForm(request.POST or None, initial={"paid_on": timezone.now().date()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                payout = payouts.payout_record(
                    coach=data["coach"],
                    amount=data["amount_minor"],
                    currency=data["currency"],
                    bank_reference=data["bank_reference"],
                    paid_on=data["paid_on"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    _("Payout of %(amount)s to %(coach)s recorded.")
                    % {
                        "amount": format_money(payout.amount, payout.currency),
                        "coach": data["coach"].name or data["coach"].email,
                    },
                )
                return redirect("staff:payouts")
        else:
            status = 400
    return render(
        request,
        "payments/staff_payouts.html",
        {
            "form": form,
            "rows": _rows(),
            "recent": Payout.objects.select_related("coach", "recorded_by")[:20],
        },
        status=status,
    )
