from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from bookings import api_urls as booking_api_urls
from bookings import urls as booking_urls
from coaching import baselines, scrape, views
from payments import api_urls as payment_api_urls
from payments import urls as payment_urls

# Two namespaces hold pages of both apps (bookings never imports payments, so
# they are put together here, at the top).
booking_pages = (
    booking_urls.booking_patterns + payment_urls.booking_patterns,
    "bookings",
)
coach_pages = (booking_urls.coach_patterns + payment_urls.coach_patterns, "coach")
booking_api = (
    booking_api_urls.urlpatterns + payment_api_urls.booking_api_patterns,
    "bookings_api",
)

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("bookings.urls")),
    path("", include(booking_pages)),
    path("", include(payment_urls.account_patterns)),
    path("coach/", include(coach_pages)),
    path("staff/", include(payment_urls.staff_patterns)),
    path("payments/", include("payments.urls")),
    path("api/auth/", include("accounts.api_urls")),
    path("api/payments/", include("payments.api_urls")),
    path("api/", include(booking_api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"
    ),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # 404 unless BENCH_BASELINES (only `make bench` turns it on).
    path("bench/webhook", baselines.webhook_baseline, name="bench_webhook"),
    path("bench/auth", baselines.AuthBaselineApi.as_view(), name="bench_auth"),
    # Browsers ask for /favicon.ico whatever the page links to.
    path(
        "favicon.ico",
        # Resolved per request: the hashed name exists only after collectstatic.
        lambda request: HttpResponsePermanentRedirect(static("favicon.svg")),
        name="favicon",
    ),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", scrape.metrics, name="metrics"),
]

handler404 = "coaching.views.page_not_found"
handler500 = "coaching.views.server_error"
