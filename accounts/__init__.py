"""Accounts: who people are and how they prove it.

Owns: ``User`` (email login; role client, coach or admin) and its time zone,
registration, confirmation and password reset, login and its lockout, the
JWT auth API, the pages' login policy (``decorators``: ``login_required``,
``coach_required``, ``staff_required``) and the WebSocket's authentication.

May import: ``money`` and coaching's plumbing (``coaching.errors`` …). Never
``bookings``, ``payments`` or the rest of ``coaching``: a new coach's profile
is made by the bookings app through the ``services.on_coach_created`` hook.
Checked by ``lint-imports`` (pyproject.toml).
"""
