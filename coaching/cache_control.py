"""Keep what a logged-in user sees out of every cache.

Bookings, receipts, checkout, saved cards and the API's payment data are one
person's: a shared proxy must not keep them, and a browser must not either
(the back button on a shared computer after logout). One rule instead of a
decorator per view, so a new page cannot forget it.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class PrivateNoStoreMiddleware:
    """Mark every answer to an authenticated user ``Cache-Control: private, no-store``.

    Runs after the view, so a user that DRF authenticated (JWT cookie or
    Bearer token) counts too: DRF sets it on the underlying request. Public
    pages for anonymous visitors stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
