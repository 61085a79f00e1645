"""The emulator fixture gives a private Stripe reachable through the real SDK."""

import stripe


def test_localstripe_fixture_serves_the_stripe_api(localstripe_url):
    client = stripe.StripeClient(
        "sk_test_localstripe", base_addresses={"api": localstripe_url}
    )
    customer = client.v1.customers.create(params={"email": "someone@example.com"})
    fetched = client.v1.customers.retrieve(customer.id)
    assert fetched.email == "someone@example.com"
    assert localstripe_url.startswith("http://127.0.0.1:")
