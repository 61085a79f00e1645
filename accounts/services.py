"""Every write of the accounts app: sign-up, login bookkeeping, profile, logout."""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)
from rest_framework_simplejwt.tokens import AccessToken, Token, UntypedToken

from accounts import realtime, throttling
from accounts.exceptions import (
    InvalidCredentials,
    RefreshTokenInvalid,
    RegistrationInvalid,
    RegistrationLinkInvalid,
)
from accounts.models import User
from accounts.tokens import (
    UserRefreshToken,
    token_generation,
    token_is_current,
    token_user_id,
)
from accounts.zones import default_time_zone, is_zone

logger = logging.getLogger(__name__)

# Called as ``hook(user=..., time_zone=...)`` inside the transaction that
# creates a coach's account (a failure rolls the sign-up back). The bookings
# app registers the one that gives the coach a profile with the default terms:
# accounts never imports bookings.
_COACH_CREATED_HOOKS: list[Callable[..., None]] = []


def on_coach_created(hook: Callable[..., None]) -> None:
    """Call ``hook(user=..., time_zone=...)`` in the transaction that creates a
    coach's account. Registering the same hook twice registers it once."""
    if hook not in _COACH_CREATED_HOOKS:
        _COACH_CREATED_HOOKS.append(hook)


SELF_SERVICE_ROLES = frozenset({User.Role.CLIENT, User.Role.COACH})

# A rotated refresh token presented again this soon after its rotation is
# refused but not taken for theft: two tabs or a retried request may race the
# same token. A thief gains nothing from the grace (the token is refused).
REFRESH_REUSE_GRACE = timedelta(seconds=30)


def user_authenticate(
    *, request: HttpRequest, email: str, password: str, client_ip: str | None
) -> User:
    """Check an email and password, counting failures against a lockout.

    The email is matched case-insensitively. A locked (email, address) pair or
    address, or an email that must wait after many failures from everywhere,
    is refused before the password is checked (``accounts.throttling``); a
    success forgets the pair's failures. Does not log the user in: the caller
    starts the session.

    Raises ``LoginRateLimited`` (locked) or ``InvalidCredentials`` (wrong
    password, unknown email or inactive account: deliberately indistinguishable).
    """
    throttling.login_lockout_check(email=email, client_ip=client_ip)
    user = authenticate(request, email=email, password=password)
    if user is None:
        throttling.login_failure_record(email=email, client_ip=client_ip)
        raise InvalidCredentials
    throttling.login_success_record(email=email, client_ip=client_ip)
    return user


class _RegistrationTokens(PasswordResetTokenGenerator):
    """One-time links confirming a sign-up: the token changes once the
    account is active, so a followed link cannot be used again. Valid for
    ``PASSWORD_RESET_TIMEOUT`` seconds."""

    key_salt = "accounts.services.registration"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return (
            f"{user.pk}{user.password}{user.is_active}{user.email_verified}{timestamp}"
        )


registration_tokens = _RegistrationTokens()


def user_register(
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    time_zone: str = "",
    site_url: str,
    next_url: str = "",
) -> None:
    """Sign up, answering the same whether or not the email is taken.

    A new address gets an inactive account (a coach also a CoachProfile with
    the default terms) and an email whose link confirms it, logs in and
    continues to ``next_url``. An address that already has an account gets
    no account: its owner is told by email that someone tried to sign up with
    it, with links to log in or reset the password (an unconfirmed sign-up
    gets its confirmation link again instead). Either way the caller says
    "check your email", so sign-up never reveals who has an account.

    ``site_url`` (scheme and host, no trailing slash) starts the links.
    ``time_zone`` is the browser's zone; unknown or empty means the site's
    default. Admins are only ever made with ``createsuperuser``.

    Raises ``RegistrationInvalid`` with per-field messages for a role other
    than client or coach or a password that Django's validators refuse:
    neither depends on who has an account. Nothing is written then.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    errors: dict[str, list[str]] = {}
    if role not in SELF_SERVICE_ROLES:
        errors["role"] = [_("Choose client or coach.")]
    try:
        password_validation.validate_password(password, User(email=email, name=name))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise RegistrationInvalid(errors)
    zone = time_zone if is_zone(time_zone) else default_time_zone()

    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    password=password,
                    name=name,
                    role=role,
                    time_zone=zone,
                    is_active=False,
                    email_verified=False,
                )
                if user.is_coach:
                    for hook in _COACH_CREATED_HOOKS:
                        hook(user=user, time_zone=zone)
        except ValidationError as exc:  # full_clean() in the manager
            raise RegistrationInvalid(exc.message_dict) from exc
        except IntegrityError:  # the same email, signed up concurrently
            existing = User.objects.filter(email__iexact=email).first()
            if existing is None:
                raise
        else:
            logger.info("user registered id=%s role=%s", user.pk, user.role)
            _send_confirmation(user, site_url=site_url, next_url=next_url)
            return
    # Hash the password anyway, so both answers take about as long.
    make_password(password)
    if not existing.is_active and not existing.email_verified:
        logger.info("registration repeated for unconfirmed user id=%s", existing.pk)
        _send_confirmation(existing, site_url=site_url, next_url=next_url)
        return
    logger.info("registration attempted for existing user id=%s", existing.pk)
    _send_account_exists(existing, site_url=site_url)


def _send_email(user: User, template: str, context: dict) -> None:
    """Send after commit, so a rolled-back sign-up sends nothing."""
    context = {"user": user, **context}
    subject = render_to_string(f"accounts/email/{template}_subject.txt", context)
    body = render_to_string(f"accounts/email/{template}.txt", context)
    transaction.on_commit(
        lambda: send_mail(
            subject=" ".join(subject.split()),
            message=body,
            from_email=None,
            recipient_list=[user.email],
        ),
        robust=True,
    )


def _send_confirmation(user: User, *, site_url: str, next_url: str) -> None:
    path = reverse(
        "accounts:register_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": registration_tokens.make_token(user),
        },
    )
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    _send_email(user, "registration_confirm", {"link": f"{site_url}{path}{query}"})


def _send_account_exists(user: User, *, site_url: str) -> None:
    _send_email(
        user,
        "registration_exists",
        {
            "login_link": f"{site_url}{reverse('accounts:login')}",
            "reset_link": f"{site_url}{reverse('accounts:password_reset')}",
        },
    )


def registration_confirm(*, user: User, token: str) -> User:
    """Activate a signed-up account from its emailed link (once).

    Raises ``RegistrationLinkInvalid`` for a wrong, used or expired token.
    Does not log the user in: the caller starts the session.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email_verified or not registration_tokens.check_token(user, token):
            raise RegistrationLinkInvalid
        user.is_active = True
        user.email_verified = True
        user.save(update_fields=["is_active", "email_verified"])
    logger.info("user confirmed id=%s", user.pk)
    return user


def user_update(
    *, user: User, actor: User, name: str | None = None, time_zone: str | None = None
) -> User:
    """Change what users edit themselves: their display name and time zone.

    Email and role are not editable here (email is the login; roles are
    granted by admins). ``None`` leaves a field as it is. Raises Django's
    ``ValidationError`` for an unknown zone or an empty name.
    """
    changed = []
    if name is not None and user.name != name:
        user.name = name
        changed.append("name")
    if time_zone is not None and user.time_zone != time_zone:
        user.time_zone = time_zone
        changed.append("time_zone")
    if not changed:
        return user
    user.full_clean(exclude=["password"])
    user.save(update_fields=changed)
    logger.info(
        "user updated id=%s by=%s fields=%s", user.pk, actor.pk, ",".join(changed)
    )
    return user


def user_tokens_revoke(*, user: User, reason: str) -> int:
    """End every JWT, session and WebSocket of a user, on every device.

    Bumps the user's token generation: access and refresh tokens issued before
    are refused from now on (API, refresh, WebSocket handshake), the Django
    sessions' auth hash no longer matches, and after commit the user's open
    sockets are told to close. ``reason`` is logged. Returns the new
    generation and updates ``user`` in place. Each call bumps again.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            token_generation=F("token_generation") + 1
        )
        generation = (
            User.objects.filter(pk=user.pk)
            .values_list("token_generation", flat=True)
            .get()
        )
        user_id = user.pk
        transaction.on_commit(
            lambda: realtime.broadcast_tokens_revoked(
                user_id=user_id, generation=generation
            )
        )
    user.token_generation = generation
    logger.info(
        "user tokens revoked id=%s generation=%s reason=%s",
        user.pk,
        generation,
        reason,
    )
    return generation


def user_logout(
    *,
    session_user: User | None,
    access_tokens: list[str | None],
    refresh_tokens: list[str | None],
) -> None:
    """Log out everyone these credentials prove, and blacklist the refresh tokens.

    ``session_user`` is the Django session's user (or None); the tokens are
    whatever the client sent (header, cookies, body), raw. Each user proven by
    a credential of their *current* generation gets ``user_tokens_revoke``;
    a stale, forged or expired token proves nothing, so an old token cannot
    log its user out again and again. Idempotent for the credentials given.
    """
    users: dict = {}
    if session_user is not None and session_user.is_authenticated:
        users[session_user.pk] = session_user
    for raw, token_class in [
        *((raw, AccessToken) for raw in access_tokens),
        *((raw, UserRefreshToken) for raw in refresh_tokens),
    ]:
        user = _current_user_of(raw, token_class)
        if user is not None:
            users.setdefault(user.pk, user)
    for user in users.values():
        user_tokens_revoke(user=user, reason="logout")
    for raw in refresh_tokens:
        refresh_token_revoke(token=raw)


def _current_user_of(raw: str | None, token_class: type[Token]) -> User | None:
    """The active user a token proves, if it is valid and of their generation."""
    if not raw:
        return None
    try:
        token = token_class(raw)
    except TokenError:
        return None
    user = User.objects.filter(pk=token_user_id(token), is_active=True).first()
    if user is None or not token_is_current(token, user):
        return None
    return user


def refresh_token_issue(*, user: User) -> UserRefreshToken:
    """Issue a refresh token for a user who just proved who they are.

    The token is recorded as outstanding, so it can be blacklisted later; its
    ``access_token`` is the matching short-lived access token. Both carry the
    user's token generation.
    """
    return UserRefreshToken.for_user(user)


def refresh_token_rotate(*, token: str | None) -> UserRefreshToken:
    """Exchange a refresh token for a new one and blacklist the old one.

    Exactly one of several concurrent rotations of the same token wins (the
    blacklist's unique row decides); the others fail as if it were revoked.
    A token rotated more than ``REFRESH_REUSE_GRACE`` ago and presented again
    was copied: every token of its user is revoked (``user_tokens_revoke``),
    the successors of the copied token included.

    Raises ``RefreshTokenInvalid`` for a missing, malformed, expired, blacklisted
    or unknown token, one of an older generation, or one whose user is gone or
    inactive.
    """
    if not token:
        raise RefreshTokenInvalid
    try:
        old = UserRefreshToken(token)
    except TokenError as exc:
        _refresh_token_reuse_check(token)
        raise RefreshTokenInvalid from exc
    user = User.objects.filter(pk=token_user_id(old)).first()
    if (
        user is None
        or not jwt_settings.USER_AUTHENTICATION_RULE(user)
        or not token_is_current(old, user)
    ):
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
        return UserRefreshToken.for_user(user)


def _refresh_token_reuse_check(raw: str) -> None:
    """Revoke the user's tokens if ``raw`` is a genuine refresh token that was
    rotated (blacklisted) a while ago and is of the user's current generation.

    Anything else (forged, expired, stale generation, never blacklisted, or
    blacklisted within the grace) changes nothing.
    """
    try:
        # Checks the signature and expiry but not the blacklist.
        token = UntypedToken(raw)
    except TokenError:
        return
    if token.get(jwt_settings.TOKEN_TYPE_CLAIM) != UserRefreshToken.token_type:
        return
    blacklisted_at = (
        BlacklistedToken.objects.filter(token__jti=token.get(jwt_settings.JTI_CLAIM))
        .values_list("blacklisted_at", flat=True)
        .first()
    )
    if blacklisted_at is None or timezone.now() - blacklisted_at < REFRESH_REUSE_GRACE:
        return
    user = User.objects.filter(pk=token_user_id(token)).first()
    if user is None or not token_is_current(token, user):
        return
    logger.warning(
        "refresh token replayed id=%s jti=%s generation=%s",
        user.pk,
        token.get(jwt_settings.JTI_CLAIM),
        token_generation(token),
    )
    user_tokens_revoke(user=user, reason="refresh_token_reuse")


def refresh_token_revoke(*, token: str | None) -> None:
    """Blacklist a refresh token so it can never be used again.

    Idempotent: a missing, malformed, expired or already blacklisted token is
    already unusable, so it is ignored.
    """
    if not token:
        return
    try:
        UserRefreshToken(token).blacklist()
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
