"""Login, logout and sign-up pages, and the base layout they share."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import User
from bookings.models import CoachProfile
from tests.accounts.conftest import ACCESS_COOKIE, REFRESH_COOKIE
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
LOGOUT = "/logout/"
REGISTER = "/register/"
STRONG_PASSWORD = "violet-kettle-harbour-42"


def _page_login(client, user, password=PASSWORD, **params):
    return client.post(LOGIN, {"email": user.email, "password": password, **params})


# --- login page ----------------------------------------------------------------


def test_login_page_get_renders_labelled_form(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_email">' in html
    assert '<label for="id_password">' in html
    assert 'autocomplete="current-password"' in html
    assert "csrfmiddlewaretoken" in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_login_page_post_logs_in_with_session_and_jwt_cookies(client, any_user):
    response = _page_login(client, any_user)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(any_user.pk)
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        cookie = response.cookies[name]
        assert cookie.value
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["secure"] is True


def test_login_page_jwt_cookie_authenticates_api(client, coach):
    response = _page_login(client, coach)
    api = APIClient()
    api.cookies[ACCESS_COOKIE] = response.cookies[ACCESS_COOKIE].value

    assert api.get("/api/auth/user/").json()["id"] == str(coach.pk)


def test_login_page_email_in_other_case_logs_in(client, client_user):
    response = client.post(LOGIN, {"email": "CLIENT@EXAMPLE.COM", "password": PASSWORD})

    assert response.status_code == 302


def test_login_page_wrong_password_shows_error_and_stays_anonymous(client, client_user):
    response = _page_login(client, client_user, password="wrong")

    assert response.status_code == 200
    assert "The email address or password is not correct." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert ACCESS_COOKIE not in response.cookies


def test_login_page_missing_email_shows_error_next_to_field(client):
    response = client.post(LOGIN, {"email": "", "password": "x"})

    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert '<small id="id_email_error">This field is required.</small>' in html


@pytest.mark.parametrize("next_url", ["/coaches/42/", "/bookings/?page=2"])
def test_login_page_safe_next_redirects_there(client, client_user, next_url):
    response = _page_login(client, client_user, next=next_url)

    assert response["Location"] == next_url


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/path",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "\\\\evil.example",
    ],
)
def test_login_page_unsafe_next_redirects_home(client, client_user, next_url):
    response = _page_login(client, client_user, next=next_url)

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_get_keeps_safe_next_in_form(client):
    html = client.get(LOGIN, {"next": "/coaches/"}).content.decode()

    assert '<input type="hidden" name="next" value="/coaches/">' in html


def test_login_page_get_drops_unsafe_next(client):
    html = client.get(LOGIN, {"next": "https://evil.example/"}).content.decode()

    assert "evil.example" not in html


def test_login_page_lockout_returns_429_with_retry_after(client, client_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        _page_login(client, client_user, password="wrong")

    response = _page_login(client, client_user)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_page_and_api_share_the_lockout(client, client_user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    _page_login(client, client_user, password="wrong")
    APIClient().post(
        "/api/auth/login/",
        {"email": client_user.email, "password": "wrong"},
        format="json",
    )

    page = _page_login(client, client_user)
    api = APIClient().post(
        "/api/auth/login/",
        {"email": client_user.email, "password": PASSWORD},
        format="json",
    )

    assert (page.status_code, api.status_code) == (429, 429)


def test_login_page_post_without_csrf_token_is_forbidden(client_user):
    response = _page_login(Client(enforce_csrf_checks=True), client_user)

    assert response.status_code == 403


def test_login_page_put_not_allowed(client):
    assert client.put(LOGIN).status_code == 405


# --- logout page ---------------------------------------------------------------


def test_logout_page_post_ends_session_clears_cookies_and_revokes_refresh(
    client, client_user
):
    refresh = _page_login(client, client_user).cookies[REFRESH_COOKIE].value

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "_auth_user_id" not in client.session
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert response.cookies[REFRESH_COOKIE].value == ""
    assert BlacklistedToken.objects.filter(token__token=refresh).exists()


def test_logout_page_revokes_refresh_token_the_page_never_sees(client, client_user):
    refresh = _page_login(client, client_user).cookies[REFRESH_COOKIE].value
    # A browser sends the refresh cookie only under /api/auth/ (its path).
    client.cookies.pop(REFRESH_COOKIE)

    client.post(LOGOUT)

    assert BlacklistedToken.objects.filter(token__token=refresh).exists()
    again = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": refresh}, format="json"
    )
    assert again.status_code == 401


def test_logout_page_after_api_refresh_revokes_the_rotated_token(client, client_user):
    _page_login(client, client_user)
    response = client.post(
        "/api/auth/token/refresh/",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    rotated = response.cookies[REFRESH_COOKIE].value
    client.cookies.pop(REFRESH_COOKIE)

    client.post(LOGOUT)

    assert BlacklistedToken.objects.filter(token__token=rotated).exists()


def test_logout_page_shows_logged_out_message(client, client_user):
    _page_login(client, client_user)

    response = client.post(LOGOUT, follow=True)

    assert "You are logged out." in response.content.decode()


def test_logout_page_anonymous_post_redirects(client):
    assert client.post(LOGOUT).status_code == 302


def test_logout_page_get_not_allowed(client, client_user):
    client.force_login(client_user)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert client.session["_auth_user_id"] == str(client_user.pk)


def test_logout_page_post_without_csrf_token_is_forbidden(client_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)

    assert browser.post(LOGOUT).status_code == 403
    assert browser.session["_auth_user_id"] == str(client_user.pk)


# --- registration page ---------------------------------------------------------


def _page_register(client, **overrides):
    data = {
        "name": "New Person",
        "email": "new@example.com",
        "password": STRONG_PASSWORD,
        "role": "client",
        **overrides,
    }
    return client.post(REGISTER, data)


def test_register_page_get_renders_role_choice(client):
    response = client.get(REGISTER)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'type="radio" name="role" value="client"' in html
    assert 'type="radio" name="role" value="coach"' in html
    assert 'value="admin"' not in html
    assert "<legend>" in html
    assert 'autocomplete="new-password"' in html


def _emailed_link(message) -> str:
    return next(
        line for line in message.body.splitlines() if line.startswith("http")
    ).removeprefix("http://testserver")


@pytest.mark.parametrize("role", ["client", "coach"])
def test_register_page_post_says_check_email_and_the_link_logs_in(
    client, role, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _page_register(
            client, role=role, email="New@Example.com", time_zone="Asia/Tokyo"
        )

    assert response.status_code == 302
    assert response["Location"] == "/register/done/"
    user = User.objects.get(email="new@example.com")
    assert (user.role, user.time_zone, user.is_active) == (role, "Asia/Tokyo", False)
    assert CoachProfile.objects.filter(user=user).exists() == (role == "coach")
    assert "_auth_user_id" not in client.session
    assert "Check your email" in client.get(response["Location"]).content.decode()

    link = _emailed_link(mail.outbox[0])
    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm and continue" in page.content.decode()
    assert "_auth_user_id" not in client.session  # a GET changes nothing
    confirmed = client.post(link)

    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert confirmed.cookies[ACCESS_COOKIE]["httponly"] is True
    assert confirmed.cookies[REFRESH_COOKIE]["httponly"] is True
    # The link works once.
    client.logout()
    assert client.post(link).status_code == 400
    assert "_auth_user_id" not in client.session


def test_register_page_new_and_known_email_get_identical_answers(
    client_user, django_capture_on_commit_callbacks
):
    answers = []
    for email in ("new@example.com", client_user.email.upper()):
        browser = Client()
        with django_capture_on_commit_callbacks(execute=True):
            response = _page_register(browser, email=email)
        done = browser.get(response["Location"])
        answers.append(
            (
                response.status_code,
                response["Location"],
                done.status_code,
                re.sub(
                    r'"X-CSRFToken": "[^"]+"',
                    "",
                    done.content.decode().replace(email, "EMAIL"),
                ),
            )
        )

    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, "/register/done/", 200)
    new_mail, known_mail = mail.outbox
    assert new_mail.to == ["new@example.com"]
    assert new_mail.subject == "Confirm your email to finish signing up"
    assert known_mail.to == [client_user.email]
    assert known_mail.subject == "Someone tried to sign up with your email address"
    assert "/password-reset/" in known_mail.body


def test_register_page_safe_next_survives_the_emailed_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _page_register(client, next="/coaches/?offering=1&day=2")

    link = _emailed_link(mail.outbox[0])
    assert "next=%2Fcoaches%2F%3Foffering%3D1%26day%3D2" in link
    response = client.post(link)

    assert response["Location"] == "/coaches/?offering=1&day=2"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_register_page_unsafe_next_is_ignored(
    client, next_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _page_register(client, next=next_url)

    link = _emailed_link(mail.outbox[0])
    assert "next=" not in link
    assert client.post(link)["Location"] == "/"


def test_register_confirm_unsafe_next_redirects_home(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _page_register(client)

    link = _emailed_link(mail.outbox[0])
    response = client.post(link + "?next=https://evil.example/")

    assert response["Location"] == "/"


def test_register_confirm_bad_link_says_so(client):
    response = client.get("/register/confirm/bm9wZQ/nope-123/")

    assert response.status_code == 400
    assert "not valid any more" in response.content.decode()


def test_register_page_fills_the_zone_from_the_browser_by_script(client):
    html = client.get(REGISTER).content.decode()

    assert 'type="hidden" name="time_zone"' in html
    assert "data-browser-tz" in html
    assert "/static/js/time-zone.js" in html


def test_register_page_admin_role_is_refused(client):
    response = _page_register(client, role="admin")

    assert response.status_code == 200
    assert '<small id="id_role_error">' in response.content.decode()
    assert not User.objects.exists()


def test_register_page_weak_password_shows_error_next_to_field(client):
    response = _page_register(client, password="password")

    html = response.content.decode()
    assert '<small id="id_password_error">' in html
    assert "too common" in html
    assert not User.objects.exists()


def test_register_page_missing_name_shows_error(client):
    response = _page_register(client, name="")

    assert '<small id="id_name_error">' in response.content.decode()
    assert not User.objects.exists()


def test_register_page_logged_in_user_is_redirected(client, client_user):
    client.force_login(client_user)

    response = client.get(REGISTER)

    assert response.status_code == 302
    assert response["Location"] == "/"


# --- base layout and error pages -----------------------------------------------


def test_base_nav_anonymous_shows_login_and_signup(client):
    html = client.get(LOGIN).content.decode()

    assert 'href="/login/"' in html
    assert 'href="/register/"' in html
    assert 'action="/logout/"' not in html


def test_base_nav_logged_in_shows_user_and_logout_form(client, any_user):
    client.force_login(any_user)

    html = client.get(LOGIN).content.decode()

    assert any_user.display_name in html
    assert any_user.get_role_display() in html
    assert '<form method="post" action="/logout/">' in html
    assert ('href="/admin/"' in html) == (any_user.role == "admin")


def test_base_layout_is_accessible_and_uses_vendored_assets(client):
    html = client.get(LOGIN).content.decode()

    assert '<html lang="en">' in html
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main" class="container"' in html
    assert (
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false}\'>'
        in html
    )
    for path in (
        "vendor/pico/pico.min.css",
        "css/app.css",
        "vendor/htmx/htmx.min.js",
        "vendor/htmx-ext-ws/ws.min.js",
        "favicon.svg",
    ):
        assert f"/static/{path}" in html
        assert finders.find(path), path
    assert "https://" not in html.split("<body")[0]


def test_base_layout_sends_csrf_token_with_htmx_requests(client):
    html = client.get(LOGIN).content.decode()

    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_vendored_libraries_keep_their_licences():
    for path in (
        "vendor/VENDORED.md",
        "vendor/htmx/LICENSE",
        "vendor/htmx-ext-ws/LICENSE",
        "vendor/pico/LICENSE.md",
    ):
        assert finders.find(path), path


def test_404_page_renders_with_layout(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="skip-link"' in html


def test_500_template_renders_without_request_or_context():
    html = render_to_string("500.html")

    assert "Something went wrong" in html
    assert "/static/vendor/pico/pico.min.css" in html


def test_500_page_served_for_unhandled_page_error(client, monkeypatch, settings):
    from accounts import views

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "render", boom)
    client.raise_request_exception = False

    response = client.get(LOGIN)

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
