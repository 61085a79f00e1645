"""Money: amounts in minor units, currencies, the one bounded parser of amounts
and rates from outside, and pricing (the fee split of a price).

Owns: ``money.amounts`` (currencies and their exponents, parsing, formatting,
conversion between minor and major units) and ``money.pricing`` (price terms
and their breakdown). Pure Python: no Django models, no database, no
settings; only Django's translation functions for messages.

May import: the standard library and ``django.utils.translation``. Every app
may import it; it imports no app (the bottom layer: coaching → payments →
bookings → accounts → money).
"""
