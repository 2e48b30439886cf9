"""Experiments API: assign, log events, results (thin: parse, call a service, render)."""

import math

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot.errors import flatten
from echopilot.exceptions import Invalid
from echopilot.parsers import text_problem
from echopilot.schema import NO_NUL, SOME_TEXT
from echopilot.serializers import ErrorSerializer
from experiments import selectors, services, timeseries
from experiments.limits import (
    BATCH_MAX,
    DAYS_DEFAULT,
    DAYS_MAX,
    EVENT_MAX,
    EVENT_RE,
    KEY_MAX,
    MAX_VARIANTS,
    USER_MAX,
    VALUE_MAX,
    VARIANT_MAX,
)
from experiments.serializers import (
    AssignSerializer,
    EventInSerializer,
    LogSerializer,
    PlanSerializer,
    ResultsAllSerializer,
    ResultsSerializer,
    TimeseriesSerializer,
)

# check_user: not blank (after strip), no NUL, at most USER_MAX.
USER_SCHEMA = {"type": "string", "minLength": 1, "maxLength": USER_MAX, "pattern": SOME_TEXT}
EVENT_NAME = {"type": "string", "pattern": EVENT_RE.pattern}
# One event or a list of them: a raw schema, since a serializer cannot say "either".
EVENT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event", "user", "exp"],
    "properties": {
        "event": EVENT_NAME,
        "user": USER_SCHEMA,
        "exp": {"type": "string", "minLength": 1, "maxLength": KEY_MAX, "pattern": NO_NUL},
        "variant": {
            "type": "string",
            "nullable": True,
            "minLength": 1,
            "maxLength": VARIANT_MAX,
            "pattern": NO_NUL,
        },
        "value": {"type": "number", "nullable": True, "minimum": -VALUE_MAX, "maximum": VALUE_MAX},
    },
}
EVENT_OR_BATCH = {
    "oneOf": [
        EVENT_SCHEMA,
        {"type": "array", "minItems": 1, "maxItems": BATCH_MAX, "items": EVENT_SCHEMA},
    ]
}
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


def _query(request, required: tuple[str, ...], optional: dict[str, str] | None = None) -> dict:
    """Read query parameters strictly: unknown ones refused, required ones present.

    Hand-rolled rather than a serializer: building a DRF serializer per request
    costs more than the whole assign query (the hot path, see the bench).
    """
    params = request.query_params
    optional = optional or {}
    unknown = sorted(set(params) - set(required) - set(optional))
    if unknown:
        raise Invalid("; ".join(f"{n}: Unknown field." for n in unknown))
    repeated = sorted(n for n in params if len(params.getlist(n)) > 1)
    if repeated:
        # `params[n]` would silently take the last one.
        raise Invalid("; ".join(f"{n}: Given more than once." for n in repeated))
    missing = [n for n in required if n not in params]
    if missing:
        raise Invalid("; ".join(f"{n}: This field is required." for n in missing))
    data = {n: params[n] for n in required}
    data.update({n: params.get(n, default) for n, default in optional.items()})
    return data


class AssignView(APIView):
    """Return a user's variant; the first call for a running experiment exposes the user."""

    required_scope = "evaluate"

    @extend_schema(
        tags=["experiments"],
        parameters=[
            OpenApiParameter("user", USER_SCHEMA, required=True),
            OpenApiParameter("exp", str, required=True),
        ],
        responses={200: AssignSerializer, **ERRORS},
    )
    def get(self, request):
        data = _query(request, ("user", "exp"))
        result = services.assign(
            experiment=data["exp"], user=data["user"], actor=request.user.actor
        )
        return Response({"ok": True, **result})


class LogView(APIView):
    """Log one event, or a JSON list of up to 1,000 (all or nothing)."""

    required_scope = "evaluate"

    @extend_schema(
        tags=["experiments"],
        request={"application/json": EVENT_OR_BATCH},
        responses={200: LogSerializer, **ERRORS},
    )
    def post(self, request):
        body = request.data
        batch = isinstance(body, list)
        items = body if batch else [body]
        services.check_batch_size(len(items))  # before parsing a huge body item by item
        # Parse problems are handed over as text, not raised: the service checks
        # the events in order, so an earlier event's 404 or 409 is reported first.
        events, problems = [], {}
        for i, item in enumerate(items):
            event, problem = self._parse(item)
            events.append(event)
            if problem:
                problems[i] = problem
        result = services.log_events(
            events=events, problems=problems, indexed=batch, actor=request.user.actor
        )
        return Response({"ok": True, **result})

    @staticmethod
    def _parse(item):
        """Return (the validated event, None), or (None, why it is not one)."""
        if not isinstance(item, dict):
            return None, "An event must be a JSON object."
        clean = _clean_event(item)
        if clean is not None:
            return clean, None
        # Not obviously valid: the serializer names the problem in its own words.
        serializer = EventInSerializer(data=item)
        if serializer.is_valid():
            return serializer.validated_data, None
        return None, "; ".join(flatten(serializer.errors))


_TEXT_LIMITS = {"event": EVENT_MAX, "user": USER_MAX, "exp": KEY_MAX, "variant": VARIANT_MAX}


def _plain_text(value: object, limit: int) -> bool:
    """Return whether `value` is text EventInSerializer accepts unchanged."""
    return isinstance(value, str) and 0 < len(value) <= limit and text_problem(value) is None


def _clean_event(item: dict):
    """Return the event EventInSerializer would return, when it plainly is one, else None.

    The fast path of a batch of 1,000: building a DRF serializer per event costs
    more than storing the event (see the bench); anything unusual falls back to it.
    """
    if not item.keys() <= _TEXT_LIMITS.keys() | {"value"} or not item.keys() >= {
        "event",
        "user",
        "exp",
    }:
        return None
    for name, limit in _TEXT_LIMITS.items():
        value = item.get(name)
        if (value is not None or name != "variant") and not _plain_text(value, limit):
            return None
    value = item.get("value")
    if value is None:
        return item
    if type(value) is float and math.isfinite(value):
        return item
    if type(value) is int and abs(value) < 2**53:
        return {**item, "value": float(value)}
    return None


RESULTS_ANY = PolymorphicProxySerializer(
    component_name="ResultsAny",
    serializers=[ResultsSerializer, ResultsAllSerializer],
    resource_type_field_name=None,
)
EVENT_PARAM = OpenApiParameter(
    "event", {"type": "string", "pattern": EVENT_RE.pattern}, default="conversion"
)


class ResultsView(APIView):
    """Return an experiment's results for one event, or every declared metric (`metrics=all`)."""

    required_scope = "read"

    @extend_schema(
        tags=["experiments"],
        parameters=[
            OpenApiParameter("exp", str, required=True),
            EVENT_PARAM,
            OpenApiParameter(
                "metrics",
                str,
                enum=["all"],
                description="`all`: primary, secondary and guardrail metrics (no `event`).",
            ),
        ],
        responses={200: RESULTS_ANY, **ERRORS},
    )
    def get(self, request):
        data = _query(request, ("exp",), {"event": None, "metrics": None})
        if data["metrics"] is not None:
            if data["metrics"] != "all":
                raise Invalid("metrics: the only value is 'all'.")
            if data["event"] is not None:
                raise Invalid("event: not with metrics=all (every declared metric is returned).")
            return Response({"ok": True, **selectors.results_all(experiment=data["exp"])})
        event = "conversion" if data["event"] is None else data["event"]
        return Response({"ok": True, **selectors.results(experiment=data["exp"], event=event)})


# OpenAPI 3.0: exclusive bounds are booleans beside minimum/maximum.
UNIT = {
    "type": "number",
    "minimum": 0,
    "maximum": 1,
    "exclusiveMinimum": True,
    "exclusiveMaximum": True,
}


def _unit(name: str, default: float | None = None) -> OpenApiParameter:
    schema = UNIT
    return OpenApiParameter(
        name, {**schema, **({"default": default} if default is not None else {})}
    )


class PlanView(APIView):
    """Return the users per variant (and in all) an experiment needs for a given effect."""

    required_scope = "read"

    @extend_schema(
        tags=["experiments"],
        parameters=[
            OpenApiParameter(
                "baseline",
                UNIT,
                required=True,
                description="The control's conversion rate.",
            ),
            OpenApiParameter(
                "mde",
                {**UNIT, "minimum": -1, "not": {"enum": [0]}},
                description="Absolute minimum detectable effect (give this or mde_rel).",
            ),
            OpenApiParameter(
                "mde_rel",
                {"type": "number", "not": {"enum": [0]}},
                description="Relative effect: mde = baseline × mde_rel.",
            ),
            _unit("alpha", 0.05),
            _unit("power", 0.8),
            OpenApiParameter(
                "variants",
                {"type": "integer", "minimum": 2, "maximum": MAX_VARIANTS, "default": 2},
            ),
        ],
        responses={200: PlanSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request):
        optional = {"mde": None, "mde_rel": None, "alpha": "0.05", "power": "0.8", "variants": "2"}
        data = _query(request, ("baseline",), optional)
        return Response({"ok": True, **services.plan(**data)})


class TimeseriesView(APIView):
    """Return cumulative results per variant at the end of each UTC day."""

    required_scope = "read"

    @extend_schema(
        tags=["experiments"],
        parameters=[
            OpenApiParameter("exp", str, required=True),
            EVENT_PARAM,
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": DAYS_MAX, "default": DAYS_DEFAULT},
            ),
        ],
        responses={200: TimeseriesSerializer, **ERRORS},
    )
    def get(self, request):
        data = _query(request, ("exp",), {"event": "conversion", "days": str(DAYS_DEFAULT)})
        return Response(
            {
                "ok": True,
                **timeseries.timeseries(
                    experiment=data["exp"], event=data["event"], days=data["days"]
                ),
            }
        )
