"""Views the whole API shares: health, key check, and JSON 404s under /api/."""

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework import exceptions, negotiation, renderers, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot import metrics, status
from echopilot.auth import DashKeyAuthentication, HasDashKeyOrStaff
from echopilot.renderers import JSONRenderer
from echopilot.serializers import ErrorSerializer, OkSerializer


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validate the query string with a StrictSerializer; return the validated data.

    DRF's own `format` parameter is dropped; a parameter given twice is refused,
    since silently using one of the two values hides a client bug.
    """
    params = request.query_params
    repeated = sorted(k for k, v in params.lists() if len(v) > 1)
    if repeated:
        raise exceptions.ValidationError({k: ["Given more than once."] for k in repeated})
    data = params.dict()
    data.pop("format", None)
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated


class ReadOrWriteScope:
    """A view whose safe methods need the `read` scope and whose others need `write`."""

    def get_required_scope(self, request: Request) -> str:
        return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"


class HealthView(APIView):
    """Liveness and database reachability; needs no key and reveals nothing else."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        auth=[],
        responses={
            200: inline_serializer(
                "Health",
                {"ok": serializers.BooleanField(), "database": serializers.CharField()},
            ),
            503: ErrorSerializer,
        },
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except DatabaseError:
            return Response(
                {
                    "ok": False,
                    "error": "database_unreachable",
                    "detail": "The database cannot be reached.",
                    "database": "unreachable",
                },
                status=503,
            )
        return Response({"ok": True, "database": "ok"})


class PingView(APIView):
    """Answer `{"ok": true}` to a valid key without touching the database."""

    required_scope = "evaluate"

    @extend_schema(responses={200: OkSerializer, 401: ErrorSerializer, 503: ErrorSerializer})
    def get(self, request):
        return Response({"ok": True})


class StatusView(APIView):
    """Report every component: database, Redis, mirror, scheduler and the apps' upstreams."""

    required_scope = "read"

    @extend_schema(
        responses={
            200: inline_serializer(
                "Status",
                {
                    "ok": serializers.BooleanField(),
                    "healthy": serializers.BooleanField(
                        help_text="False when any component is down, slow, behind or overdue."
                    ),
                    "ts_iso": serializers.CharField(),
                    "components": serializers.DictField(
                        child=serializers.DictField(),
                        help_text="Per component: status (ok, off, down, slow, behind, "
                        "overdue, failing), detail and its figures.",
                    ),
                },
            ),
            401: ErrorSerializer,
            503: ErrorSerializer,
        }
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True, **status.status_report()})


class ApiNotFoundView(APIView):
    """Any unknown path under /api/: a JSON 404 (after the key check)."""

    required_scope = "evaluate"

    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such endpoint.")

    get = post = put = patch = delete = _not_found


class JsonErrorsMixin(APIView):
    """Render errors as JSON on views whose normal output is HTML or YAML."""

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


# Schema and docs: a valid key, or a staff user logged in to the admin.
DOCS_AUTH = [DashKeyAuthentication, SessionAuthentication]
DOCS_PERMISSIONS = [HasDashKeyOrStaff]


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI 3 schema."""

    authentication_classes = DOCS_AUTH
    permission_classes = DOCS_PERMISSIONS
    required_scope = "read"


class DocsView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI, served from local static files.

    The split view serves its start-up script from `?script` instead of inline,
    so the page works under the Content-Security-Policy `script-src 'self'`.
    """

    authentication_classes = DOCS_AUTH
    permission_classes = DOCS_PERMISSIONS
    required_scope = "read"


class RedocView(JsonErrorsMixin, SpectacularRedocView):
    """Redoc, served from local static files."""

    # drf-spectacular's page also loads Google Fonts, which the CSP refuses.
    template_name = "echopilot/redoc.html"

    authentication_classes = DOCS_AUTH
    permission_classes = DOCS_PERMISSIONS
    required_scope = "read"


class PrometheusRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class FirstRenderer(negotiation.BaseContentNegotiation):
    """Answer in the view's first format whatever Accept says (Prometheus asks for several)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsView(JsonErrorsMixin, APIView):
    """Every metric in the Prometheus text format (all processes in multiprocess mode).

    Prometheus sends the key as `Authorization: Bearer <key>`; a key with the
    `metrics` scope (or a `DASHBOARD_KEY` key) may scrape.
    """

    required_scope = "metrics"
    renderer_classes = [PrometheusRenderer]  # errors: JSON (JsonErrorsMixin)
    content_negotiation_class = FirstRenderer

    @extend_schema(
        operation_id="metrics",
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            (404, "application/json"): ErrorSerializer,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        if not settings.METRICS_ENABLED:
            raise exceptions.NotFound("Metrics are off (METRICS_ENABLED=false).")
        return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
