from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication

from echopilot.auth import DashKeyAuthentication, HasDashKeyOrStaff
from echopilot.views import ApiNotFoundView, HealthView, PingView

# Schema and docs: a valid key, or a staff user logged in to the admin.
docs_access = {
    "authentication_classes": [DashKeyAuthentication, SessionAuthentication],
    "permission_classes": [HasDashKeyOrStaff],
}

api = [
    path("health", HealthView.as_view(), name="health"),
    path("ping", PingView.as_view(), name="ping"),
    path("schema/", SpectacularAPIView.as_view(**docs_access), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", **docs_access), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema", **docs_access), name="redoc"),
    # Each app declares its own paths below /api/ (e.g. "flags/get").
    path("", include("support.urls")),
    path("", include("flags.urls")),
    path("", include("experiments.urls")),
    path("", include("costs.urls")),
    path("", include("incidents.urls")),
    re_path(r"^.*$", ApiNotFoundView.as_view()),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("ofrep/", include("flags.ofrep_urls")),
]

handler404 = "echopilot.errors.handler404"
handler500 = "echopilot.errors.handler500"
