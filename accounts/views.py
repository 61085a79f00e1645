"""Login, logout and sign-up pages.

They start and end the same sessions as the API: a Django session plus the
JWT cookies, so pages and API calls from the same browser agree on who is
logged in. Failed logins count against the same lockout as the API's.
"""

from dj_rest_auth.jwt_auth import set_jwt_cookies
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import auth_sessions, services, throttling
from accounts.exceptions import (
    InvalidCredentials,
    LoginRateLimited,
    RegistrationInvalid,
)
from accounts.forms import LoginForm, RegistrationForm
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
            user = services.user_register(**form.cleaned_data)
        except RegistrationInvalid as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(
                request, _("Welcome, %(name)s!") % {"name": user.display_name}
            )
            return _log_in(request, user, redirect_to)
    return render(
        request, "accounts/register.html", {"form": form, "next": redirect_to}
    )
