"""The Content-Security-Policy lets sockets connect only to our own origin."""

import pytest

pytestmark = pytest.mark.django_db


def _connect_src(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    return directives["connect-src"].split()


def test_csp_connect_src_allows_no_socket_to_other_hosts(client):
    sources = _connect_src(client.get("/"))

    assert "ws:" not in sources and "wss:" not in sources
    assert not any(source.endswith("*") for source in sources)
    assert sources[:2] == ["'self'", "ws://testserver"]


def test_csp_connect_src_over_https_names_wss_of_our_host(client):
    sources = _connect_src(client.get("/", secure=True, HTTP_HOST="localhost:8443"))

    assert "wss://localhost:8443" in sources
    assert "ws://localhost:8443" not in sources


def test_csp_connect_src_keeps_stripe(client, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_API_BASE = ""

    sources = _connect_src(client.get("/"))

    assert "https://js.stripe.com" in sources
    assert "https://api.stripe.com" in sources
