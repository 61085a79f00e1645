"""Login, logout, sign-up, account and password pages.

They start and end the same sessions as the API: a Django session plus the
JWT cookies, so pages and API calls from the same browser agree on who is
logged in. Failed logins count against the same lockout as the API's.

Sign-up answers "check your email" whether or not the address has an
account (see ``services.user_register``); the emailed link confirms, logs
in and continues to ``next``. Password reset is Django's, in our templates.
"""

from dj_rest_auth.jwt_auth import set_jwt_cookies
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.encoding import force_str
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import auth_sessions, services, throttling
from accounts.decorators import login_required
from accounts.exceptions import (
    InvalidCredentials,
    LoginRateLimited,
    RegistrationInvalid,
    RegistrationLinkInvalid,
)
from accounts.forms import (
    AccountForm,
    LoginForm,
    PasswordResetForm,
    RegistrationForm,
)
from accounts.models import User


def _next_url(request: HttpRequest) -> str:
    """The ``next`` parameter if it points into this site, else ``""``."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def _log_in(request: HttpRequest, user: User, redirect_to: str) -> HttpResponse:
    """Log in to the session and set the JWT cookies, as the login API does."""
    refresh = auth_sessions.session_start(request, user)
    response = redirect(redirect_to or resolve_url(settings.LOGIN_REDIRECT_URL))
    set_jwt_cookies(response, refresh.access_token, refresh)
    return response


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def account_login(request: HttpRequest) -> HttpResponse:
    redirect_to = _next_url(request)
    form = LoginForm(request.POST if request.method == "POST" else None)
    status, headers = 200, {}
    if form.is_valid():
        try:
            user = services.user_authenticate(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                client_ip=throttling.client_address(request),
            )
        except InvalidCredentials as exc:
            form.add_error(None, exc.message)
        except LoginRateLimited as exc:
            form.add_error(None, exc.message)
            status, headers = exc.http_status, exc.headers
        else:
            return _log_in(request, user, redirect_to)
    response = render(
        request,
        "accounts/login.html",
        {"form": form, "next": redirect_to},
        status=status,
    )
    for name, value in headers.items():
        response[name] = value
    return response


@require_POST
def account_logout(request: HttpRequest) -> HttpResponse:
    response = redirect(settings.LOGOUT_REDIRECT_URL)
    auth_sessions.session_end(request, response)
    messages.info(request, _("You are logged out."))
    return response


def _site_url(request: HttpRequest) -> str:
    """Scheme and host of this request, to start the links of emails."""
    return request.build_absolute_uri("/").rstrip("/")


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def account_register(request: HttpRequest) -> HttpResponse:
    redirect_to = _next_url(request)
    if request.user.is_authenticated:
        return redirect(redirect_to or settings.LOGIN_REDIRECT_URL)
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.user_register(
                **form.cleaned_data,
                site_url=_site_url(request),
                next_url=redirect_to,
            )
        except RegistrationInvalid as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            # The same answer for a new and a known address.
            request.session["registered_email"] = form.cleaned_data["email"]
            return redirect("accounts:register_done")
    return render(
        request, "accounts/register.html", {"form": form, "next": redirect_to}
    )


@never_cache
@require_http_methods(["GET"])
def account_register_done(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/register_done.html",
        {"email": request.session.get("registered_email", "")},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def account_register_confirm(
    request: HttpRequest, uidb64: str, token: str
) -> HttpResponse:
    """The emailed sign-up link: a button confirms (a GET changes nothing, so
    mail scanners that open links do not use it up), then logs in and goes on
    to ``next``, e.g. the time the visitor chose before signing up."""
    redirect_to = _next_url(request)
    user = _user_from_uid(uidb64)
    error = ""
    if request.method == "POST":
        try:
            if user is None:
                raise RegistrationLinkInvalid
            user = services.registration_confirm(user=user, token=token)
        except RegistrationLinkInvalid as exc:
            error = exc.message
        else:
            request.session.pop("registered_email", None)
            messages.success(
                request, _("Welcome, %(name)s!") % {"name": user.display_name}
            )
            return _log_in(request, user, redirect_to)
    elif user is None or not services.registration_tokens.check_token(user, token):
        error = RegistrationLinkInvalid().message
    return render(
        request,
        "accounts/register_confirm.html",
        {"error": error, "next": redirect_to},
        status=400 if error else 200,
    )


def _user_from_uid(uidb64: str) -> User | None:
    try:
        pk = force_str(urlsafe_base64_decode(uidb64))
        return User.objects.filter(pk=pk).first()
    except (ValueError, ValidationError, TypeError, OverflowError):
        return None


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_detail(request: HttpRequest) -> HttpResponse:
    """The account page: name and time zone (editable), email, and links to
    change the password."""
    user = request.user
    initial = {"name": user.name, "time_zone": user.time_zone}
    form = AccountForm(
        request.POST if request.method == "POST" else None, initial=initial
    )
    if form.is_valid():
        try:
            services.user_update(user=user, actor=user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Your account is saved."))
            return redirect("accounts:account")
    return render(request, "accounts/account.html", {"form": form})


@sensitive_post_parameters()
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_password_change(request: HttpRequest) -> HttpResponse:
    """Django's PasswordChangeForm; the session stays logged in afterwards."""
    form = PasswordChangeForm(
        request.user, request.POST if request.method == "POST" else None
    )
    if form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password is changed."))
        return redirect("accounts:account")
    return render(request, "accounts/password_change.html", {"form": form})


# Password reset by email: Django's views (a neutral answer whether or not the
# address has an account), in our templates.
password_reset = auth_views.PasswordResetView.as_view(
    form_class=PasswordResetForm,
    template_name="accounts/password_reset.html",
    email_template_name="accounts/email/password_reset.txt",
    subject_template_name="accounts/email/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
