"""The flags REST API: thin views over `flags.services` and `flags.selectors`."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot import mirror
from echopilot.serializers import ErrorSerializer
from echopilot.views import ReadOrWriteScope, parse_query
from flags import reports, scheduling, segments, selectors, services
from flags.engine import FlagError
from flags.limits import HISTORY_DEFAULT, HISTORY_MAX, HISTORY_MIN
from flags.serializers import (
    EvaluateInput,
    EvaluateOutput,
    FlagGetOutput,
    FlagListOutput,
    FlagSetInput,
    FlagSetOutput,
    HistoryOutput,
    HistoryQuery,
    RevertInput,
    ScheduleCreatedOutput,
    ScheduleInput,
    ScheduleListOutput,
    ScheduleOutput,
    ScheduleQuery,
    SegmentInput,
    SegmentListOutput,
    SegmentSetOutput,
    StaleOutput,
    StaleQuery,
    UsageOutput,
    UsageQuery,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer}


def set_body(result: services.SetResult) -> dict[str, Any]:
    return {
        "ok": True,
        "key": result.key,
        "value": result.value,
        "previous": result.previous,
        "type": result.type,
        "created": result.created,
        "changed": result.changed,
        "history": result.changes,
    }


class FlagGetView(APIView):
    """Every live flag's served default value (from the cached snapshot)."""

    required_scope = "evaluate"

    @extend_schema(responses={200: FlagGetOutput, 401: ErrorSerializer})
    def get(self, request):
        count, values = selectors.served_values()
        return Response({"ok": True, "count": count, "flags": values})


class FlagSetView(APIView):
    """Change a flag's value, rules, rollout, switches or description (or create it)."""

    required_scope = "write"

    @extend_schema(
        request=FlagSetInput, responses={200: FlagSetOutput, 201: FlagSetOutput, **ERRORS}
    )
    def post(self, request):
        serializer = FlagSetInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        result = services.flag_set(actor=request.user.actor, **data)
        return Response(set_body(result), status=201 if result.created else 200)


class FlagHistoryView(APIView):
    """Change history, newest first (one flag with `key`)."""

    required_scope = "read"

    @extend_schema(
        parameters=[
            OpenApiParameter("key", str, required=False),
            OpenApiParameter(
                "limit",
                int,
                required=False,
                description=f"{HISTORY_MIN}-{HISTORY_MAX}, default {HISTORY_DEFAULT}",
            ),
        ],
        responses={200: HistoryOutput, **ERRORS},
    )
    def get(self, request):
        query = parse_query(HistoryQuery, request)
        rows = selectors.history(key=query.get("key"), limit=query["limit"])
        return Response({"ok": True, "count": len(rows), "history": rows})


class FlagRevertView(APIView):
    """Undo one history row (itself recorded as a change)."""

    required_scope = "write"

    @extend_schema(
        request=RevertInput, responses={200: FlagSetOutput, 409: ErrorSerializer, **ERRORS}
    )
    def post(self, request):
        serializer = RevertInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.flag_revert(
            change_id=serializer.validated_data["id"], actor=request.user.actor
        )
        return Response(set_body(result))


class FlagEvaluateView(APIView):
    """Evaluate one flag for a context: value, variant and reason."""

    required_scope = "evaluate"

    @extend_schema(request=EvaluateInput, responses={200: EvaluateOutput, **ERRORS})
    def post(self, request):
        serializer = EvaluateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = serializer.validated_data["key"]
        try:
            value, variant, reason = selectors.evaluate(
                key, serializer.validated_data.get("context") or {}
            )
        except FlagError as exc:
            raise selectors.evaluation_error(exc) from None
        return Response(
            {"ok": True, "key": key, "value": value, "variant": variant, "reason": reason}
        )


class FlagListView(APIView):
    """Every flag with everything it has (archived ones too), for flags-as-code."""

    required_scope = "read"

    @extend_schema(responses={200: FlagListOutput, 401: ErrorSerializer})
    def get(self, request):
        flags = [
            {
                "key": f.key,
                **services.flag_spec(f),
                "updated_by": f.updated_by,
                "updated_iso": mirror.now_iso(f.updated_at),
            }
            for f in selectors.list_flags(include_archived=True)
        ]
        return Response({"ok": True, "count": len(flags), "flags": flags})


class FlagScheduleView(ReadOrWriteScope, APIView):
    """Schedule a change of a flag (POST), or list scheduled changes (GET)."""

    @extend_schema(
        parameters=[ScheduleQuery],
        responses={200: ScheduleListOutput, **ERRORS},
    )
    def get(self, request):
        query = parse_query(ScheduleQuery, request)
        rows = scheduling.schedule_list(
            key=query.get("key"), state=query.get("state"), limit=query["limit"]
        )
        return Response({"ok": True, "count": len(rows), "schedules": rows})

    @extend_schema(
        request=ScheduleInput,
        responses={201: ScheduleCreatedOutput, 409: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        serializer = ScheduleInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        row = scheduling.schedule_create(
            key=data["key"],
            at=data["at"],
            change=data["change"],
            note=data.get("note", ""),
            actor=request.user.actor,
        )
        return Response({"ok": True, "id": row["id"], "schedule": row}, status=201)


class FlagScheduleCancelView(APIView):
    """Cancel a pending scheduled change."""

    required_scope = "write"

    @extend_schema(request=None, responses={200: ScheduleOutput, 409: ErrorSerializer, **ERRORS})
    def post(self, request, schedule_id: int):
        row = scheduling.schedule_cancel(schedule_id=schedule_id, actor=request.user.actor)
        return Response({"ok": True, "schedule": row})


def segment_body(result: segments.SegmentResult) -> dict[str, Any]:
    return {
        "ok": True,
        "name": result.name,
        "conditions": result.conditions,
        "description": result.description,
        "created": result.created,
        "changed": result.changed,
        "history": result.changes,
    }


class SegmentsView(ReadOrWriteScope, APIView):
    """List segments (GET), or create or replace one (POST)."""

    @extend_schema(responses={200: SegmentListOutput, 401: ErrorSerializer})
    def get(self, request):
        rows = segments.segment_list()
        return Response({"ok": True, "count": len(rows), "segments": rows})

    @extend_schema(
        request=SegmentInput, responses={200: SegmentSetOutput, 201: SegmentSetOutput, **ERRORS}
    )
    def post(self, request):
        serializer = SegmentInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fields = {"description": data["description"]} if "description" in data else {}
        result = segments.segment_set(
            name=data["name"], conditions=data["conditions"], actor=request.user.actor, **fields
        )
        return Response(segment_body(result), status=201 if result.created else 200)


class SegmentDeleteView(APIView):
    """Delete a segment no rule uses (409 names the flags that use it)."""

    required_scope = "write"

    @extend_schema(responses={200: SegmentSetOutput, 409: ErrorSerializer, **ERRORS})
    def delete(self, request, name: str):
        result = segments.segment_delete(name=name, actor=request.user.actor)
        return Response(segment_body(result))


class FlagUsageView(APIView):
    """Evaluations of one flag per UTC day and variant (flushed counts)."""

    required_scope = "read"

    @extend_schema(parameters=[UsageQuery], responses={200: UsageOutput, **ERRORS})
    def get(self, request):
        query = parse_query(UsageQuery, request)
        days = reports.usage_days(key=query["key"], days=query["days"])
        return Response({"ok": True, "key": query["key"], "days": days})


class FlagStaleView(APIView):
    """Flags not evaluated lately, or serving one value to everyone (delete them from code)."""

    required_scope = "read"

    @extend_schema(parameters=[StaleQuery], responses={200: StaleOutput, **ERRORS})
    def get(self, request):
        query = parse_query(StaleQuery, request)
        rows = reports.stale_flags(
            unused_days=query["unused_days"], static_days=query["static_days"]
        )
        return Response({"ok": True, "count": len(rows), "flags": rows})
