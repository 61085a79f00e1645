"""The project: settings, the URLs that put the apps' pages together, ASGI
and WSGI entry points, the Celery app, health checks, ``make run``.

May import every app (the top layer). Its plumbing modules (``errors``,
``api_errors``, ``ids``, ``metrics``, ``throttling``, ``correlation``,
``channels``) import no app, so every app may use them (the exception in
pyproject.toml's layer contract).
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
