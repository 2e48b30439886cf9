"""Incidents API: list, scan, acknowledge, resolve, silences, Alertmanager receiver."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot.serializers import ErrorSerializer
from echopilot.views import ReadOrWriteScope, parse_query
from incidents import clock, selectors, services
from incidents.selectors import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, STATUS_FILTERS
from incidents.serializers import (
    AlertmanagerResultSerializer,
    AlertmanagerWebhookSerializer,
    EmptySerializer,
    IncidentActionSerializer,
    IncidentChangeSerializer,
    IncidentDetailSerializer,
    IncidentListQuerySerializer,
    IncidentListSerializer,
    NoteCreatedSerializer,
    NoteCreateSerializer,
    ScanResultSerializer,
    SilenceCreatedSerializer,
    SilenceCreateSerializer,
    SilenceListSerializer,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer}


def _empty_body(request) -> None:
    EmptySerializer(data=request.data if request.data else {}).is_valid(raise_exception=True)


class IncidentListView(APIView):
    """List incidents, newest first."""

    required_scope = "read"

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(STATUS_FILTERS)),
            OpenApiParameter(
                "limit", int, description=f"1-{LIST_LIMIT_MAX}, default {LIST_LIMIT_DEFAULT}"
            ),
        ],
        responses={200: IncidentListSerializer, **ERRORS},
    )
    def get(self, request):
        query = parse_query(IncidentListQuerySerializer, request)
        rows = selectors.list_incidents(**query)
        return Response({"ok": True, "count": len(rows), "incidents": rows})


class IncidentScanView(APIView):
    """Scan the health signals now (what the 5-minute schedule runs)."""

    required_scope = "write"

    @extend_schema(request=EmptySerializer, responses={200: ScanResultSerializer, **ERRORS})
    def post(self, request):
        _empty_body(request)
        return Response(services.scan(actor=request.user.actor))


def _action_note(request) -> str:
    body = IncidentActionSerializer(data=request.data if request.data else {})
    body.is_valid(raise_exception=True)
    return str(body.validated_data["note"])


class IncidentDetailView(APIView):
    """One incident with its alerts, runbooks and timeline (in time order)."""

    required_scope = "read"

    @extend_schema(
        operation_id="api_incidents_detail",
        responses={200: IncidentDetailSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request, pk: int):
        return Response({"ok": True, "incident": selectors.incident_detail(pk)})


class IncidentNotesView(APIView):
    """Write a note on an incident (it shows in the timeline)."""

    required_scope = "write"

    @extend_schema(
        request=NoteCreateSerializer,
        responses={201: NoteCreatedSerializer, 404: ErrorSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        body = NoteCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.add_note(
            incident_id=pk, text=body.validated_data["text"], actor=request.user.actor
        )
        return Response(result, status=201)


class IncidentAcknowledgeView(APIView):
    """Acknowledge an incident: no more repeat alerts or escalation."""

    required_scope = "write"

    @extend_schema(
        request=IncidentActionSerializer,
        responses={200: IncidentChangeSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request, pk: int):
        note = _action_note(request)
        return Response(services.acknowledge(incident_id=pk, actor=request.user.actor, note=note))


class IncidentResolveView(APIView):
    """Resolve an incident by hand (sends the resolved message)."""

    required_scope = "write"

    @extend_schema(
        request=IncidentActionSerializer,
        responses={200: IncidentChangeSerializer, 404: ErrorSerializer},
    )
    def post(self, request, pk: int):
        note = _action_note(request)
        return Response(services.resolve(incident_id=pk, actor=request.user.actor, note=note))


class SilenceView(ReadOrWriteScope, APIView):
    """Active silences (GET) and creating one (POST)."""

    @extend_schema(responses={200: SilenceListSerializer, 401: ErrorSerializer})
    def get(self, request):
        rows = selectors.list_silences(now=clock.now())
        return Response({"ok": True, "count": len(rows), "silences": rows})

    @extend_schema(
        request=SilenceCreateSerializer, responses={201: SilenceCreatedSerializer, **ERRORS}
    )
    def post(self, request):
        body = SilenceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.create_silence(actor=request.user.actor, **body.validated_data)
        return Response(result, status=201)


class AlertmanagerReceiverView(APIView):
    """Receive a Prometheus Alertmanager webhook (version 4)."""

    required_scope = "alertmanager"

    @extend_schema(
        request=AlertmanagerWebhookSerializer,
        responses={200: AlertmanagerResultSerializer, **ERRORS},
    )
    def post(self, request):
        return Response(
            services.receive_alertmanager(payload=request.data, actor=request.user.actor)
        )
