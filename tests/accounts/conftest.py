"""Fixtures for the accounts tests: logging in through the real API."""

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD

ACCESS_COOKIE = "coaching-access"
REFRESH_COOKIE = "coaching-refresh"


@pytest.fixture(params=["client_user", "coach", "admin_user"])
def any_user(request):
    """Each role in turn: client, coach, admin."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def log_in():
    """Log a test client in through ``POST /api/auth/login/``; return the response."""

    def _log_in(client, user, password=PASSWORD):
        response = client.post(
            "/api/auth/login/",
            {"email": user.email, "password": password},
            format="json",
        )
        assert response.status_code == 200, response.content
        return response

    return _log_in


@pytest.fixture
def csrf_api():
    """An API client that enforces CSRF checks like a browser request would get."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def bearer_api():
    """Build a cookie-less client that authenticates with ``Authorization: Bearer``."""

    def _bearer_api(access: str) -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        return client

    return _bearer_api


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash with MD5 in these tests: PBKDF2's deliberate slowness costs minutes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
