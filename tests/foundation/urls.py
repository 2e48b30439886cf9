"""URLs for foundation tests: the real ones plus views that exercise the error format."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot.serializers import (
    QueryBooleanField,
    QueryIntegerField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)


class EchoInput(StrictSerializer):
    name = StrictCharField(max_length=10)
    count = StrictIntegerField(min_value=1, max_value=100, required=False)
    enabled = StrictBooleanField(required=False)
    ratio = StrictFloatField(required=False)


class EchoView(APIView):
    required_scope = "write"

    def post(self, request):
        data = EchoInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"ok": True, **data.validated_data})


class QueryInput(StrictSerializer):
    limit = QueryIntegerField(min_value=1, max_value=100, required=False, default=10)
    save = QueryBooleanField(required=False, default=False)


class QueryView(APIView):
    required_scope = "write"

    def get(self, request):
        from echopilot.views import parse_query

        return Response({"ok": True, **parse_query(QueryInput, request)})


class NanView(APIView):
    required_scope = "write"

    def get(self, request):
        return Response({"ok": True, "nan": float("nan"), "inf": [float("inf")], "x": 1.5})


class BoomView(APIView):
    required_scope = "write"

    def get(self, request):
        raise RuntimeError("boom")


urlpatterns = [
    path("api/test/echo", EchoView.as_view()),
    path("api/test/nan", NanView.as_view()),
    path("api/test/query", QueryView.as_view()),
    path("api/test/boom", BoomView.as_view()),
    path("", include("echopilot.urls")),
]

handler404 = "echopilot.errors.handler404"
handler500 = "echopilot.errors.handler500"
