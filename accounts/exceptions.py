"""Refusals of the accounts app, rendered by ``coaching.api_errors``."""

from typing import Any

from django.utils.translation import gettext as _

from coaching.errors import DomainError


class AccountError(DomainError):
    code = "account_error"
    http_status = 400


class InvalidCredentials(AccountError):
    """Wrong email or password; never says which, nor whether the email exists."""

    code = "invalid_credentials"
    http_status = 400

    def __init__(self) -> None:
        super().__init__(_("The email address or password is not correct."))


class LoginRateLimited(AccountError):
    """Too many failed logins: refused without looking at the password."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, *, retry_after: int) -> None:
        if retry_after < 60:
            message = _(
                "Too many failed login attempts. Try again in %(seconds)d second(s)."
            ) % {"seconds": retry_after}
        else:
            message = _(
                "Too many failed login attempts. Try again in %(minutes)d minute(s)."
            ) % {"minutes": -(-retry_after // 60)}
        super().__init__(
            message,
            headers={"Retry-After": str(retry_after)},
            retryAfter=retry_after,
        )
        self.retry_after = retry_after


class RegistrationInvalid(AccountError):
    """The sign-up data breaks a rule only the server can check.

    ``details`` has the shape of a DRF validation error (``{"fields": {name:
    [message, ...]}}``) so clients handle both alike.
    """

    code = "validation_error"
    http_status = 400

    def __init__(self, fields: dict[str, list[Any]]) -> None:
        super().__init__(_("The request is not valid."), fields=fields)
        self.fields = fields


class RegistrationLinkInvalid(AccountError):
    """A sign-up confirmation link that is wrong, already used or expired."""

    code = "link_invalid"
    http_status = 400

    def __init__(self) -> None:
        super().__init__(
            _(
                "This confirmation link is not valid any more. Sign up again to get a new one."
            )
        )


class RefreshTokenInvalid(AccountError):
    """A refresh token that is missing, malformed, expired, revoked or orphaned."""

    code = "token_not_valid"
    http_status = 401

    def __init__(self) -> None:
        super().__init__(
            _("Your session has ended. Log in again."),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
