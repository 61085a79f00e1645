"""Bookings: what coaches sell and who booked which time.

Owns: ``CoachProfile`` (a coach's terms), ``AvailabilityWindow``,
``Offering``, ``Booking`` with its state machine, transitions and version
(bumped only by ``services.booking_touch`` or a transition), the public
coach catalogue and booking a time (pages and API), the coach's bookings and
offerings pages, the booking admin, and ``seed_demo``.

May import: ``accounts``, ``money`` and coaching's plumbing
(``coaching.errors``, ``coaching.ids``, ``coaching.throttling`` …). Never
``payments``: bookings announces its changes through hooks the payments app
registers in its ``AppConfig.ready()`` (``services.on_hold_ended``,
``services.on_booking_changed``, ``views._status.on_status_rows``). Checked
by ``lint-imports`` (pyproject.toml).
"""
