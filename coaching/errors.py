"""The base of every domain error the API renders in its error envelope."""

from typing import Any


class DomainError(Exception):
    """A refusal the user can act on: a stable ``code``, a status, a message.

    ``details`` carries machine-readable context (never another user's data).
    Extra HTTP headers (``Retry-After``) go in ``headers``.
    """

    code = "error"
    http_status = 400

    def __init__(
        self, message: str, *, headers: dict[str, str] | None = None, **details: Any
    ):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}
