"""Cost API: a fresh report (optionally stored) and the stored history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from costs import selectors, services
from costs.serializers import (
    CostHistoryQuerySerializer,
    CostHistoryResponseSerializer,
    CostReportQuerySerializer,
    CostReportResponseSerializer,
)
from echopilot.serializers import ErrorSerializer
from echopilot.views import parse_query


class CostReportView(APIView):
    """Compute a fresh cost report; store it only with `?save=true`."""

    def get_required_scope(self, request: Request) -> str:
        # Storing a report is a write; a value the query parser will refuse is
        # judged as a write too, so a read key never learns more than a 403.
        save = request.query_params.get("save", "false").lower()
        return "read" if save in ("false", "0") else "write"

    @extend_schema(
        parameters=[
            OpenApiParameter("save", bool, description="Store the report (default false).")
        ],
        responses={200: CostReportResponseSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request):
        query = parse_query(CostReportQuerySerializer, request)
        report = services.create_report(save=query["save"], actor=request.user.actor)
        return Response(report)


class CostHistoryView(APIView):
    """Return the stored reports of the last `days` days, oldest first."""

    required_scope = "read"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "days",
                int,
                description=f"Window in days, 1-{selectors.MAX_HISTORY_DAYS} "
                f"(default {selectors.HISTORY_DAYS}).",
            )
        ],
        responses={200: CostHistoryResponseSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request):
        query = parse_query(CostHistoryQuerySerializer, request)
        return Response(selectors.history(days=query["days"]))
