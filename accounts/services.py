"""Every write of the accounts app: sign-up, login bookkeeping, profile, logout."""

import logging

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import throttling
from accounts.exceptions import (
    InvalidCredentials,
    RefreshTokenInvalid,
    RegistrationInvalid,
)
from accounts.models import User
from bookings.models import CoachProfile

logger = logging.getLogger(__name__)

SELF_SERVICE_ROLES = frozenset({User.Role.CLIENT, User.Role.COACH})


def user_authenticate(
    *, request: HttpRequest, email: str, password: str, client_ip: str | None
) -> User:
    """Check an email and password, counting failures against a lockout.

    The email is matched case-insensitively. A locked email or client address
    is refused before the password is checked; a success forgets the email's
    failures. Does not log the user in: the caller starts the session.

    Raises ``LoginRateLimited`` (locked) or ``InvalidCredentials`` (wrong
    password, unknown email or inactive account: deliberately indistinguishable).
    """
    throttling.login_lockout_check(email=email, client_ip=client_ip)
    user = authenticate(request, email=email, password=password)
    if user is None:
        throttling.login_failure_record(email=email, client_ip=client_ip)
        raise InvalidCredentials
    throttling.login_success_record(email=email)
    return user


def user_register(*, email: str, password: str, name: str, role: str) -> User:
    """Create a client or coach account; a coach also gets a CoachProfile.

    The profile has the default terms and no availability or offerings yet:
    the coach adds them before anyone can book. Admins are only ever made
    with ``createsuperuser``. Does not log the user in.

    Raises ``RegistrationInvalid`` with per-field messages for a role other
    than client or coach, an email already in use (in any letter case), or a
    password that Django's password validators refuse. Nothing is written then.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    errors: dict[str, list[str]] = {}
    if role not in SELF_SERVICE_ROLES:
        errors["role"] = [_("Choose client or coach.")]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = [_("An account with this email address already exists.")]
    try:
        password_validation.validate_password(password, User(email=email, name=name))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationInvalid(errors)

    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, name=name, role=role
            )
            if user.is_coach:
                CoachProfile.objects.create(user=user)
    except ValidationError as exc:  # full_clean() in the manager
        raise RegistrationInvalid(exc.message_dict) from exc
    except IntegrityError as exc:  # the same email, registered concurrently
        raise RegistrationInvalid(
            {"email": [_("An account with this email address already exists.")]}
        ) from exc
    logger.info("user registered id=%s role=%s", user.pk, user.role)
    return user


def user_update(*, user: User, name: str, actor: User) -> User:
    """Change a user's display name: the only field users edit themselves.

    Email and role are not editable here (email is the login; roles are
    granted by admins).
    """
    if user.name == name:
        return user
    user.name = name
    user.full_clean(exclude=["password"])
    user.save(update_fields=["name"])
    logger.info("user updated id=%s by=%s fields=name", user.pk, actor.pk)
    return user


def refresh_token_issue(*, user: User) -> RefreshToken:
    """Issue a refresh token for a user who just proved who they are.

    The token is recorded as outstanding, so it can be blacklisted later; its
    ``access_token`` is the matching short-lived access token.
    """
    return RefreshToken.for_user(user)


def refresh_token_rotate(*, token: str | None) -> RefreshToken:
    """Exchange a refresh token for a new one and blacklist the old one.

    Exactly one of several concurrent rotations of the same token wins (the
    blacklist's unique row decides); the others fail as if it were revoked.

    Raises ``RefreshTokenInvalid`` for a missing, malformed, expired, blacklisted
    or unknown token, or one whose user is gone or inactive.
    """
    if not token:
        raise RefreshTokenInvalid
    try:
        old = RefreshToken(token)
    except TokenError as exc:
        raise RefreshTokenInvalid from exc
    user = User.objects.filter(pk=old.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
        raise RefreshTokenInvalid
    with transaction.atomic():
        outstanding = OutstandingToken.objects.filter(
            jti=old[jwt_settings.JTI_CLAIM]
        ).first()
        if outstanding is None:
            raise RefreshTokenInvalid
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if not created:
            raise RefreshTokenInvalid
        return RefreshToken.for_user(user)


def refresh_token_revoke(*, token: str | None) -> None:
    """Blacklist a refresh token so it can never be used again.

    Idempotent: a missing, malformed, expired or already blacklisted token is
    already unusable, so it is ignored.
    """
    if not token:
        return
    try:
        RefreshToken(token).blacklist()
    except TokenError as exc:
        logger.info("refresh token not revoked: %s", exc)


def refresh_token_revoke_by_jti(*, jti: str | None) -> None:
    """Blacklist the outstanding refresh token with this id (``jti`` claim).

    For when only the id is at hand (a Django session remembers it). Idempotent:
    an unknown or already blacklisted id is ignored.
    """
    if not jti:
        return
    outstanding = OutstandingToken.objects.filter(jti=jti).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)
