from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView

from echopilot.views import (
    ApiNotFoundView,
    DocsView,
    HealthView,
    MetricsView,
    PingView,
    RedocView,
    SchemaView,
    StatusView,
)

api: list[URLPattern | URLResolver] = [
    path("health", HealthView.as_view(), name="health"),
    path("ping", PingView.as_view(), name="ping"),
    path("status", StatusView.as_view(), name="status"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    # Each app declares its own paths below /api/ (e.g. "flags/get").
    path("", include("support.urls")),
    path("", include("flags.urls")),
    path("", include("experiments.urls")),
    path("", include("costs.urls")),
    path("", include("incidents.urls")),
    re_path(r"^.*$", ApiNotFoundView.as_view()),
]

urlpatterns = [
    # The console's overview is the admin index.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("ofrep/", include("flags.ofrep_urls")),
    path("metrics", MetricsView.as_view(), name="metrics"),
]

handler404 = "echopilot.errors.handler404"
handler500 = "echopilot.errors.handler500"
