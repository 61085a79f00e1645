"""Payments: money moving for bookings, through Stripe.

Owns: ``Payment`` and its state machine, refunds, the ledger, coach balances
and payouts, statements and invoices, webhooks, saved cards, notifications,
the Stripe gateway (``gateway``: the only ``import stripe``), the payments
API, cancelling a booking (the cancellation service, its API endpoint and
page, and the booking admin's cancel action), and the client's booking pages
that show or move money (``views.bookings``: a booking, checkout, the list,
receipt, calendar). Their URLs keep the ``bookings`` namespaces, composed by
``coaching.urls``.

May import: ``bookings`` (its services, selectors and models), ``accounts``,
``money`` and coaching's plumbing. Never the rest of ``coaching``. No import
cycle between its modules (``services`` included). Checked by
``lint-imports`` (pyproject.toml).
"""
