"""The OpenAPI document is generated from the code without a warning."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_generates_cleanly_and_validates():
    out = io.StringIO()
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    schema = out.getvalue()
    for path in (
        "/api/payments/create-intent",
        "/api/payments/confirm",
        "/api/payments/status/{booking_id}",
        "/api/payments/refund",
        "/api/payments/methods/{item_id}",
        "/api/bookings/",
        "/api/coaches/",
        "/api/auth/login/",
    ):
        assert path in schema
