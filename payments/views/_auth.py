"""Login for payment pages whose fragments htmx loads."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect


def login_required(view):
    """``login_required`` that also works for htmx requests.

    A fragment request whose session has ended must not swap the login page
    into the fragment: htmx is told to load the login page instead, coming
    back to the page the fragment is on.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            back = request.htmx.current_url_abs_path or "/"
            return HttpResponseClientRedirect(redirect_to_login(back).url)
        return redirect_to_login(request.get_full_path())

    return wrapper
