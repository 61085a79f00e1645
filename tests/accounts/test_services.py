"""accounts.services: sign-up, authentication with lockout, tokens, profile."""

import pytest
from django.test import RequestFactory
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.exceptions import (
    InvalidCredentials,
    LoginRateLimited,
    RefreshTokenInvalid,
    RegistrationInvalid,
)
from accounts.models import User
from bookings.models import CoachProfile
from tests.factories import PASSWORD, ClientFactory

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "violet-kettle-harbour-42"


@pytest.fixture
def request_():
    return RequestFactory().post("/api/auth/login/")


# --- user_register -------------------------------------------------------------


def test_user_register_client_stores_lowercased_email_and_hashed_password():
    user = services.user_register(
        email=" Ann@Example.COM ", password=STRONG_PASSWORD, name="Ann", role="client"
    )

    assert user.email == "ann@example.com"
    assert user.password != STRONG_PASSWORD
    assert user.check_password(STRONG_PASSWORD)
    assert (user.role, user.is_staff, user.is_superuser) == ("client", False, False)
    assert not CoachProfile.objects.filter(user=user).exists()


def test_user_register_coach_creates_profile_with_defaults():
    user = services.user_register(
        email="coach@example.com", password=STRONG_PASSWORD, name="C", role="coach"
    )

    profile = CoachProfile.objects.get(user=user)
    assert profile.currency == "CHF"
    assert profile.vat_rate_bps == 810
    assert profile.platform_fee_bps == 1500
    assert not profile.availability.exists()
    assert not user.offerings.exists()


@pytest.mark.parametrize("role", ["admin", "", "staff"])
def test_user_register_role_other_than_client_or_coach_is_refused(role):
    with pytest.raises(RegistrationInvalid) as caught:
        services.user_register(
            email="x@example.com", password=STRONG_PASSWORD, name="X", role=role
        )

    assert set(caught.value.fields) == {"role"}
    assert not User.objects.exists()


def test_user_register_duplicate_email_in_other_case_is_refused(client_user):
    with pytest.raises(RegistrationInvalid) as caught:
        services.user_register(
            email="CLIENT@EXAMPLE.COM", password=STRONG_PASSWORD, name="X", role="coach"
        )

    assert set(caught.value.fields) == {"email"}
    assert User.objects.count() == 1
    assert not CoachProfile.objects.exists()


def test_user_register_reports_every_broken_rule_at_once(client_user):
    with pytest.raises(RegistrationInvalid) as caught:
        services.user_register(
            email="client@example.com", password="123", name="X", role="admin"
        )

    assert set(caught.value.fields) == {"email", "password", "role"}
    assert caught.value.http_status == 400
    assert caught.value.details == {"fields": caught.value.fields}


def test_user_register_password_like_the_email_is_refused():
    with pytest.raises(RegistrationInvalid) as caught:
        services.user_register(
            email="maximilian.muster@example.com",
            password="maximilianmuster",
            name="Max",
            role="client",
        )

    assert "password" in caught.value.fields


def test_user_register_invalid_email_is_refused_by_model_validation():
    with pytest.raises(RegistrationInvalid) as caught:
        services.user_register(
            email="not an email", password=STRONG_PASSWORD, name="X", role="client"
        )

    assert "email" in caught.value.fields
    assert not User.objects.exists()


# --- user_authenticate ---------------------------------------------------------


def test_user_authenticate_right_password_returns_user(request_, client_user):
    user = services.user_authenticate(
        request=request_,
        email="CLIENT@example.com",
        password=PASSWORD,
        client_ip="192.0.2.1",
    )

    assert user == client_user


@pytest.mark.parametrize(
    ("email", "password"),
    [("client@example.com", "wrong"), ("nobody@example.com", PASSWORD)],
)
def test_user_authenticate_wrong_credentials_raises_invalid_credentials(
    request_, client_user, email, password
):
    with pytest.raises(InvalidCredentials):
        services.user_authenticate(
            request=request_, email=email, password=password, client_ip="192.0.2.1"
        )


def test_user_authenticate_inactive_user_raises_invalid_credentials(request_):
    user = ClientFactory(is_active=False)

    with pytest.raises(InvalidCredentials):
        services.user_authenticate(
            request=request_, email=user.email, password=PASSWORD, client_ip=None
        )


def test_user_authenticate_when_locked_never_checks_password(
    request_, client_user, settings, monkeypatch
):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            services.user_authenticate(
                request=request_, email=client_user.email, password="x", client_ip=None
            )
    monkeypatch.setattr(
        services, "authenticate", lambda *a, **k: pytest.fail("password checked")
    )

    with pytest.raises(LoginRateLimited) as caught:
        services.user_authenticate(
            request=request_, email=client_user.email, password=PASSWORD, client_ip=None
        )

    assert caught.value.http_status == 429
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after)


# --- user_update ---------------------------------------------------------------


def test_user_update_changes_name_only(client_user):
    services.user_update(user=client_user, name="Renamed", actor=client_user)

    client_user.refresh_from_db()
    assert client_user.name == "Renamed"
    assert client_user.role == "client"


def test_user_update_same_name_is_noop(client_user, django_assert_num_queries):
    with django_assert_num_queries(0):
        services.user_update(user=client_user, name=client_user.name, actor=client_user)


# --- refresh tokens ------------------------------------------------------------


def test_refresh_token_issue_is_recorded_as_outstanding(client_user):
    refresh = services.refresh_token_issue(user=client_user)

    assert OutstandingToken.objects.filter(
        jti=refresh["jti"], user=client_user
    ).exists()
    assert refresh.access_token["user_id"] == str(client_user.pk)
    assert refresh["user_id"] == str(client_user.pk)


def test_refresh_token_rotate_returns_new_token_and_blacklists_old(client_user):
    old = services.refresh_token_issue(user=client_user)

    new = services.refresh_token_rotate(token=str(old))

    assert new["jti"] != old["jti"]
    assert BlacklistedToken.objects.filter(token__jti=old["jti"]).exists()
    assert not BlacklistedToken.objects.filter(token__jti=new["jti"]).exists()


def test_refresh_token_rotate_same_token_twice_fails_second_time(client_user):
    old = str(services.refresh_token_issue(user=client_user))
    services.refresh_token_rotate(token=old)

    with pytest.raises(RefreshTokenInvalid):
        services.refresh_token_rotate(token=old)


@pytest.mark.parametrize("token", [None, "", "garbage"])
def test_refresh_token_rotate_missing_or_malformed_raises(token):
    with pytest.raises(RefreshTokenInvalid) as caught:
        services.refresh_token_rotate(token=token)

    assert caught.value.http_status == 401


def test_refresh_token_rotate_token_never_issued_raises(client_user):
    # Signed with our key but not recorded as outstanding (not from for_user).
    stray = RefreshToken()
    stray["user_id"] = str(client_user.pk)

    with pytest.raises(RefreshTokenInvalid):
        services.refresh_token_rotate(token=str(stray))


def test_refresh_token_rotate_deleted_user_raises(client_user):
    token = str(services.refresh_token_issue(user=client_user))
    User.objects.filter(pk=client_user.pk).delete()

    with pytest.raises(RefreshTokenInvalid):
        services.refresh_token_rotate(token=token)


def test_refresh_token_revoke_blacklists_token(client_user):
    token = services.refresh_token_issue(user=client_user)

    services.refresh_token_revoke(token=str(token))

    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


@pytest.mark.parametrize("token", [None, "", "garbage"])
def test_refresh_token_revoke_unusable_token_is_noop(token):
    services.refresh_token_revoke(token=token)

    assert not BlacklistedToken.objects.exists()


def test_refresh_token_revoke_twice_is_noop(client_user):
    token = str(services.refresh_token_issue(user=client_user))
    services.refresh_token_revoke(token=token)

    services.refresh_token_revoke(token=token)

    assert BlacklistedToken.objects.count() == 1


def test_refresh_token_revoke_by_jti_blacklists_token(client_user):
    token = services.refresh_token_issue(user=client_user)

    services.refresh_token_revoke_by_jti(jti=token["jti"])
    services.refresh_token_revoke_by_jti(jti=token["jti"])

    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).count() == 1


@pytest.mark.parametrize("jti", [None, "", "0" * 32])
def test_refresh_token_revoke_by_jti_unknown_id_is_noop(jti):
    services.refresh_token_revoke_by_jti(jti=jti)

    assert not BlacklistedToken.objects.exists()
