from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from coaching import baselines, scrape, views

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("bookings.urls")),
    path("payments/", include("payments.urls")),
    path("api/auth/", include("accounts.api_urls")),
    path("api/payments/", include("payments.api_urls")),
    path("api/", include("bookings.api_urls")),
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
