"""Rate limits for pages, shared with the API's.

A page that does what an API endpoint does (booking a slot, cancelling) must
not be the unthrottled way around the endpoint's limit: it counts against the
same DRF scope, rate and per-user cache key as the endpoint.
"""

import math
from types import SimpleNamespace

from django.http import HttpRequest
from rest_framework.throttling import ScopedRateThrottle


def page_throttle_wait(
    request: HttpRequest,
    *,
    scope: str,
    throttle_class: type[ScopedRateThrottle] = ScopedRateThrottle,
) -> int | None:
    """Count one request of ``scope``; return the seconds to wait if over the rate.

    ``None``: allowed (and counted). ``throttle_class`` is the endpoint's own
    (a ScopedRateThrottle): keyed like it, per user when logged in, else per
    client address.
    """
    throttle = throttle_class()
    if throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
