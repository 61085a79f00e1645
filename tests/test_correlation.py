"""Correlation ids: echoed on responses, stamped on log lines and tasks."""

import logging

import pytest

from coaching import correlation

pytestmark = pytest.mark.django_db


def test_request_id_is_echoed_or_generated(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="req-123")
    assert given["X-Request-ID"] == "req-123"
    fresh = client.get("/healthz")
    assert len(fresh["X-Request-ID"]) == 32


def test_request_id_that_is_not_an_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"


def test_log_records_carry_the_current_correlation_id(caplog):
    token = correlation.set_id("abc-1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
        correlation.CorrelationIdFilter().filter(record)
        assert record.correlation_id == "abc-1"
        assert '"correlation_id": "abc-1"' in correlation.JsonFormatter().format(record)
    finally:
        correlation.reset(token)


def test_tasks_are_stamped_with_the_publishers_id():
    token = correlation.set_id("abc-2")
    try:
        headers: dict = {}
        correlation._stamp_task(headers=headers)
        assert headers["correlation_id"] == "abc-2"
    finally:
        correlation.reset(token)
