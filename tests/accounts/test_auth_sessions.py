"""accounts.auth_sessions: the Django session remembers its refresh token."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts import auth_sessions, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_request(rf):
    request = rf.post("/logout/")
    request.session = SessionStore()
    return request


def test_session_start_logs_in_and_remembers_refresh_id(browser_request, coach):
    refresh = auth_sessions.session_start(browser_request, coach)

    assert browser_request.session["_auth_user_id"] == str(coach.pk)
    assert browser_request.session[auth_sessions.SESSION_REFRESH_JTI] == refresh["jti"]


def test_session_refresh_rotated_follows_the_sessions_user(browser_request, coach):
    auth_sessions.session_start(browser_request, coach)
    rotated = services.refresh_token_issue(user=coach)

    auth_sessions.session_refresh_rotated(browser_request, rotated)

    assert browser_request.session[auth_sessions.SESSION_REFRESH_JTI] == rotated["jti"]


def test_session_refresh_rotated_ignores_other_users_token(
    browser_request, coach, client_user
):
    own = auth_sessions.session_start(browser_request, coach)

    auth_sessions.session_refresh_rotated(
        browser_request, services.refresh_token_issue(user=client_user)
    )

    assert browser_request.session[auth_sessions.SESSION_REFRESH_JTI] == own["jti"]


def test_session_end_revokes_remembered_token_and_logs_out(browser_request, coach):
    refresh = auth_sessions.session_start(browser_request, coach)
    response = HttpResponse()

    auth_sessions.session_end(browser_request, response)

    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()
    assert "_auth_user_id" not in browser_request.session
    assert response.cookies["coaching-access"]["max-age"] == 0
    assert response.cookies["coaching-refresh"]["path"] == "/api/auth/"


def test_session_end_without_login_is_noop(browser_request):
    auth_sessions.session_end(browser_request, HttpResponse())

    assert not BlacklistedToken.objects.exists()
