"""accounts.services: sign-up, authentication with lockout, tokens, profile."""

import pytest
from django.core import mail
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
    RegistrationLinkInvalid,
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

SITE = "http://testserver"


def _register(**kwargs):
    kwargs.setdefault("password", STRONG_PASSWORD)
    kwargs.setdefault("name", "X")
    kwargs.setdefault("role", "client")
    kwargs.setdefault("site_url", SITE)
    return services.user_register(**kwargs)


def _link(message) -> str:
    return next(line for line in message.body.splitlines() if line.startswith(SITE))


def test_user_register_client_stores_an_inactive_account_and_emails_a_link(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        result = _register(email=" Ann@Example.COM ", name="Ann", next_url="/x/")

    assert result is None  # nothing that would differ for a known address
    user = User.objects.get()
    assert user.email == "ann@example.com"
    assert user.password != STRONG_PASSWORD
    assert user.check_password(STRONG_PASSWORD)
    assert (user.role, user.is_staff, user.is_superuser) == ("client", False, False)
    assert (user.is_active, user.email_verified) == (False, False)
    assert not CoachProfile.objects.filter(user=user).exists()
    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    assert _link(message).startswith(f"{SITE}/register/confirm/")
    assert _link(message).endswith("?next=%2Fx%2F")


def test_user_register_takes_the_browsers_zone_or_the_sites_default():
    _register(email="a@example.com", time_zone="America/New_York")
    _register(email="b@example.com", time_zone="Mars/Olympus_Mons")
    _register(email="c@example.com", role="coach", time_zone="Asia/Tokyo")

    zones = dict(User.objects.values_list("email", "time_zone"))
    assert zones == {
        "a@example.com": "America/New_York",
        "b@example.com": "UTC",
        "c@example.com": "Asia/Tokyo",
    }
    assert CoachProfile.objects.get().time_zone == "Asia/Tokyo"


def test_user_register_coach_creates_profile_with_defaults():
    _register(email="coach@example.com", role="coach")

    user = User.objects.get()
    profile = CoachProfile.objects.get(user=user)
    assert profile.currency == "CHF"
    assert profile.vat_rate_bps == 810
    assert profile.platform_fee_bps == 1500
    assert not profile.availability.exists()
    assert not user.offerings.exists()


@pytest.mark.parametrize("role", ["admin", "", "staff"])
def test_user_register_role_other_than_client_or_coach_is_refused(role):
    with pytest.raises(RegistrationInvalid) as caught:
        _register(email="x@example.com", role=role)

    assert set(caught.value.fields) == {"role"}
    assert not User.objects.exists()


def test_user_register_known_email_opens_nothing_and_warns_its_owner(
    client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = _register(email="CLIENT@EXAMPLE.COM", role="coach")

    assert result is None
    assert User.objects.count() == 1
    assert not CoachProfile.objects.exists()
    client_user.refresh_from_db()
    assert client_user.check_password(PASSWORD)
    [message] = mail.outbox
    assert message.to == [client_user.email]
    assert "Someone tried to sign up with your email address" in message.subject
    assert f"{SITE}/login/" in message.body
    assert f"{SITE}/password-reset/" in message.body


def test_user_register_again_before_confirming_sends_the_link_again(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        _register(email="ann@example.com")
        _register(email="ann@example.com", password="another-long-pass-99")

    assert User.objects.count() == 1
    assert [m.subject for m in mail.outbox] == [
        "Confirm your email to finish signing up"
    ] * 2
    assert User.objects.get().check_password(STRONG_PASSWORD)


def test_user_register_reports_every_broken_rule_at_once(client_user):
    # The taken email is not among them: that would reveal the account.
    with pytest.raises(RegistrationInvalid) as caught:
        _register(email="client@example.com", password="123", role="admin")

    assert set(caught.value.fields) == {"password", "role"}
    assert caught.value.http_status == 400
    assert caught.value.details == {"fields": caught.value.fields}


def test_user_register_password_like_the_email_is_refused():
    with pytest.raises(RegistrationInvalid) as caught:
        _register(
            email="maximilian.muster@example.com",
            password="maximilianmuster",
            name="Max",
        )

    assert "password" in caught.value.fields


def test_user_register_invalid_email_is_refused_by_model_validation():
    with pytest.raises(RegistrationInvalid) as caught:
        _register(email="not an email")

    assert "email" in caught.value.fields
    assert not User.objects.exists()


def test_registration_confirm_activates_once(django_capture_on_commit_callbacks):
    _register(email="ann@example.com")
    user = User.objects.get()
    token = services.registration_tokens.make_token(user)

    confirmed = services.registration_confirm(user=user, token=token)

    assert (confirmed.is_active, confirmed.email_verified) == (True, True)
    with pytest.raises(RegistrationLinkInvalid):
        services.registration_confirm(user=confirmed, token=token)
    with pytest.raises(RegistrationLinkInvalid):
        services.registration_confirm(user=confirmed, token="nope-123")


def test_registration_confirm_never_reactivates_a_disabled_account(client_user):
    client_user.is_active = False
    client_user.save(update_fields=["is_active"])
    token = services.registration_tokens.make_token(client_user)

    with pytest.raises(RegistrationLinkInvalid):
        services.registration_confirm(user=client_user, token=token)
    client_user.refresh_from_db()
    assert client_user.is_active is False


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


def test_user_update_changes_time_zone(client_user):
    services.user_update(user=client_user, time_zone="Asia/Tokyo", actor=client_user)

    client_user.refresh_from_db()
    assert client_user.time_zone == "Asia/Tokyo"


def test_user_update_unknown_time_zone_is_refused(client_user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.user_update(
            user=client_user, time_zone="Mars/Olympus_Mons", actor=client_user
        )

    assert "time_zone" in caught.value.message_dict


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
