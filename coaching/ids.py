"""The one reader of ids that come from outside (URLs, JSON, socket messages).

Project plumbing like ``coaching.errors``: it imports no app, and every app
may import it (the import-layer contract in pyproject.toml allows it).
"""

import uuid
from typing import Any

from rest_framework import serializers


def as_uuid(value: Any) -> uuid.UUID | None:
    """``value`` as a UUID, or None when it is not one (a 404, never a 500)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a JSON string; DRF would also read an integer as one."""

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
