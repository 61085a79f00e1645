"""View decorators that let a page in: the one login policy of every page.

``login_required`` lets in any logged-in user, ``coach_required`` and
``staff_required`` by role. Anonymous visitors go to the login page and come
back; an htmx request whose
session has ended is told to load the login page instead of swapping it into
a fragment. A logged-in user without the role gets a 403.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User


def _require(check: Callable[[User], bool]):
    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                if getattr(request, "htmx", False):
                    back = request.htmx.current_url_abs_path or "/"
                    return HttpResponseClientRedirect(redirect_to_login(back).url)
                return redirect_to_login(request.get_full_path())
            if not check(user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


login_required = _require(lambda user: True)
login_required.__doc__ = (
    "Let in any logged-in user (Django's login_required that also works for htmx)."
)

coach_required = _require(lambda user: user.is_active and user.is_coach)
coach_required.__doc__ = "Let in active coaches only."

staff_required = _require(lambda user: user.is_active and user.is_staff)
staff_required.__doc__ = "Let in active staff (admins) only."
