"""The auth API: login, logout, current user, token refresh, registration.

``REST_AUTH`` in settings names the serializers below as ``accounts.api.<Name>``,
and dj-rest-auth imports them while its own views module is being imported. So
this package exposes only the serializers and the views live in
``accounts.api.views``: importing the views (which import dj-rest-auth's)
first completes this module, and the cycle cannot bite whichever side is
imported first.
"""

from accounts.api.serializers import (
    JwtOutputSerializer,
    LoginInputSerializer,
    UserOutputSerializer,
)

__all__ = ["JwtOutputSerializer", "LoginInputSerializer", "UserOutputSerializer"]
