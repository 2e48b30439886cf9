"""Describe the API-key authentication, scopes and errors in the OpenAPI schema."""

import inspect
import re
import sys
from typing import Any

from django.http import HttpRequest, QueryDict
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as _AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework.request import Request

from echopilot.access import GRANTS, SCOPES
from echopilot.middleware import MAX_COOKIE_BYTES, MAX_COOKIE_ESCAPES

KEY_HELP = (
    "A `DASHBOARD_KEY` key (scope write) or a stored API key (`manage.py apikeys create`). "
    "The same key is accepted in any of the three headers."
)


class DashKeyScheme(OpenApiAuthenticationExtension):
    """The three headers a key may arrive in; any one of them suffices."""

    target_class = "echopilot.auth.DashKeyAuthentication"
    name = ["DashKey", "Bearer", "ApiKey"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]  # alternatives (OR), not all at once

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-Dash-Key", "description": KEY_HELP},
            {"type": "http", "scheme": "bearer", "description": KEY_HELP},
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": KEY_HELP},
        ]


ERROR_SCHEMA = {
    "type": "object",
    "description": "The API's error format.",
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {"type": "string", "description": "Stable machine code."},
        "detail": {"type": "string", "description": "Human-readable explanation."},
    },
    "required": ["ok", "error", "detail"],
}

# Answers any authenticated operation can give, whatever the view declares.
COMMON_ERRORS = {
    "401": "Missing or wrong key, or a stored key that is revoked or expired "
    '(`detail` "key revoked" / "key expired").',
    "403": "The key lacks the scope this operation needs (`forbidden`; `detail` names both).",
    "429": "Throttled (API_THROTTLE_RATE or the key's own rate); see Retry-After.",
    "503": "No key is configured (DASHBOARD_KEY empty, no active stored key): "
    "the API refuses every request.",
}

# What echopilot.middleware answers before any view, where it answers in JSON
# (echopilot.errors.wants_json); under /ofrep/ in OFREP's shape (`refuse`).
JSON_PATHS = ("/api/", "/ofrep/")
BAD_INPUT = "Malformed JSON or invalid input; `detail` names the field."
BAD_QUERY = "A query string that is not valid UTF-8 (`invalid`, from ApiRequestGuard)."
TOO_LARGE = "A body over DATA_UPLOAD_MAX_MEMORY_SIZE (`payload_too_large`, from ApiRequestGuard)."
COOKIES_TOO_LARGE = (
    f"Or over {MAX_COOKIE_BYTES:,} bytes of cookies, or over {MAX_COOKIE_ESCAPES} backslashes "
    "in them: the app's JSON (`cookies_too_large`, from CookieGuard)."
)
OFREP_ERROR_SCHEMA = {
    "type": "object",
    "description": "OFREP's error format, as the request checks answer under /ofrep/.",
    "properties": {"errorCode": {"enum": ["GENERAL"]}, "errorDetails": {"type": "string"}},
    "required": ["errorCode", "errorDetails"],
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
OFREP_ERROR_REF = {"$ref": "#/components/schemas/OfrepError"}

SCOPE_TABLE = """

## Scopes

Every operation names the scope it needs. A key holds one or more scopes:

| scope | allows |
| --- | --- |
| `evaluate` | what an application embeds: `GET /api/ping`, flag evaluation (`/api/flags/get`, `/api/flags/evaluate`, `/ofrep/`), `GET /api/exp/assign`, `POST /api/exp/log` |
| `read` | every `GET` under `/api/`, plus `evaluate` |
| `write` | everything (what a `DASHBOARD_KEY` key is) |
| `metrics` | only `GET /metrics` |
| `alertmanager` | only `POST /api/incidents/alertmanager` |
"""  # noqa: E501 - a table row is one line


def add_error_responses(result, generator, request, public):
    """Document scopes, and the auth, throttling, size and bad-input errors, on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    # `Error` is echopilot.serializers.ErrorSerializer when a view declares it.
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("OfrepError", OFREP_ERROR_SCHEMA)
    schemas.setdefault("JsonValue", JSON_VALUE)
    info = result.setdefault("info", {})
    info["description"] = (info.get("description") or "") + SCOPE_TABLE
    views = operation_views(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted = request_check_errors(path, operation)
            if any(operation.get("security") or [{}]):  # not public (health)
                describe_scope(operation, views.get((path, method)), method)
                wanted.update(COMMON_ERRORS)
                if "requestBody" in operation or operation.get("parameters"):
                    wanted["400"] = " ".join(filter(None, [BAD_INPUT, wanted.get("400")]))
            responses = operation["responses"]
            for status, description in wanted.items():
                # The request checks answer in OFREP's shape under /ofrep/, auth in ours.
                schema = error_ref(path) if status in ("400", "413") else ERROR_REF
                content = {"application/json": {"schema": schema}}
                responses.setdefault(status, {"description": description, "content": content})
    add_server_limits(result)
    add_links(result)
    no_nul_in_bodies(result)
    require_bodies(result)
    return result


def error_ref(path: str) -> dict[str, str]:
    """The schema of the request checks' refusals on `path` (OFREP's shape under /ofrep/)."""
    return OFREP_ERROR_REF if path.startswith("/ofrep/") else ERROR_REF


def request_check_errors(path: str, operation: dict[str, Any]) -> dict[str, str]:
    """Return the statuses `ApiRequestGuard` may answer on an operation, before any view."""
    if not path.startswith(JSON_PATHS):
        return {}
    return {"400": BAD_QUERY, **({"413": TOO_LARGE} if "requestBody" in operation else {})}


# OpenAPI links (schemathesis' stateful phase follows them): source operation,
# its statuses, link name, target operation, parameters, request body.
LINKS: list[tuple[str, tuple[str, ...], str, str, dict[str, str], dict[str, str] | None]] = [
    ("api_flags_set_create", ("200", "201"), "History", "api_flags_history_retrieve",
     {"key": "$response.body#/key"}, None),
    ("api_flags_set_create", ("200", "201"), "SetAgain", "api_flags_set_create",
     {}, {"key": "$response.body#/key", "value": "$response.body#/value"}),
    ("api_flags_set_create", ("200", "201"), "Evaluate", "api_flags_evaluate_create",
     {}, {"key": "$response.body#/key"}),
    ("api_flags_set_create", ("201",), "Revert", "api_flags_revert_create",
     {}, {"id": "$response.body#/history/0/id"}),
    ("api_incidents_scan_create", ("200",), "Acknowledge", "api_incidents_ack_create",
     {"id": "$response.body#/incident_id"}, None),
    ("api_incidents_ack_create", ("200",), "Resolve", "api_incidents_resolve_create",
     {"id": "$response.body#/incident/id"}, None),
    ("api_incidents_scan_create", ("200",), "Detail", "api_incidents_detail",
     {"id": "$response.body#/incident_id"}, None),
    ("api_incidents_scan_create", ("200",), "Note", "api_incidents_notes_create",
     {"id": "$response.body#/incident_id"}, None),
    ("api_flags_set_create", ("200", "201"), "Schedule", "api_flags_schedule_create",
     {}, {"key": "$response.body#/key"}),
    ("api_flags_set_create", ("200", "201"), "Usage", "api_flags_usage_retrieve",
     {"key": "$response.body#/key"}, None),
    ("api_flags_schedule_create", ("201",), "Cancel", "api_flags_schedule_cancel_create",
     {"schedule_id": "$response.body#/schedule/id"}, None),
    ("api_flags_segments_create", ("200", "201"), "Delete", "api_flags_segments_destroy",
     {"name": "$response.body#/name"}, None),
]  # fmt: skip


def add_links(result: dict[str, Any]) -> None:
    """Add the LINKS whose operations exist (other apps may rename or drop theirs)."""
    operations = {
        op.get("operationId"): op
        for ops in result.get("paths", {}).values()
        for op in ops.values()
        if isinstance(op, dict)
    }
    for source, statuses, name, target, parameters, body in LINKS:
        if source not in operations or target not in operations:
            continue
        link: dict[str, Any] = {"operationId": target}
        if parameters:
            link["parameters"] = parameters
        if body:
            link["requestBody"] = body
        for status in statuses:
            response = operations[source]["responses"].get(status)
            if response is not None:
                response.setdefault("links", {})[name] = link


def require_bodies(result: dict[str, Any]) -> None:
    """Mark a request body required when its schema has required fields (or is a choice)."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            for media in (body or {}).get("content", {}).values():
                schema = media.get("schema") or {}
                ref = schema.get("$ref", "")
                if ref:
                    schema = schemas.get(ref.rsplit("/", 1)[1], {})
                if body is not None and (schema.get("required") or "oneOf" in schema):
                    body["required"] = True


def no_nul_in_bodies(result: dict[str, Any]) -> None:
    """Say in every request body that no string or object key holds NUL (the parser's rule).

    Objects that take extra properties take JSON values without NUL, and an
    object key is never NUL (`propertyNames`).
    """
    schemas = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    stack: list[Any] = []
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                content = (operation.get("requestBody") or {}).get("content", {})
                stack.extend(media.get("schema") for media in content.values())
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in schemas:
                seen.add(name)
                stack.append(schemas[name])
            continue
        no_nul(node)
        stack.extend(v for k, v in node.items() if k not in ("enum", "default", "example"))


def no_nul(node: dict[str, Any]) -> None:
    """Exclude NUL from one string or object schema of a request body."""
    if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
        node["pattern"] = NO_NUL
    if node.get("type") == "object" and node.get("additionalProperties") is not False:
        node.setdefault("propertyNames", {"pattern": NO_NUL})
        node.setdefault("additionalProperties", JSON_REF)


# What gunicorn answers itself, before the app sees the request (an HTML page).
SERVER_LIMITS = {
    "414": "Request line over gunicorn's limit_request_line (8190 bytes in `make run`): "
    "answered by gunicorn, as an HTML page.",
    "431": "Request headers over gunicorn's limits (50 fields, 8190 bytes each): answered "
    "by gunicorn, as an HTML page.",
}


def add_server_limits(result: dict[str, Any]) -> None:
    """Document gunicorn's 414 and 431 (HTML) everywhere, and the JSON 431 of JSON_PATHS."""
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, description in SERVER_LIMITS.items():
                html = {"text/html": {"schema": {"type": "string"}}}  # one per operation
                responses.setdefault(status, {"description": description, "content": html})
            if path.startswith(JSON_PATHS):
                cookies = responses["431"]
                if "application/json" not in cookies.setdefault("content", {}):
                    cookies["description"] += " " + COOKIES_TOO_LARGE
                    cookies["content"]["application/json"] = {"schema": error_ref(path)}


def operation_views(generator: Any) -> dict[tuple[str, str], Any]:
    """Return the view instance behind each (path, method) of the schema."""
    views = {}
    for path, _regex, method, callback in generator.endpoints or []:
        view = generator.create_view(callback, method)
        path = generator.coerce_path(path, method, view)
        views[("/" + path.lstrip("/"), method.lower())] = view
    return views


def probe(method: str, query: dict[str, str]) -> Request:
    """A bare request, to ask a view which scope it needs for `method` and `query`."""
    http = HttpRequest()
    http.method = method.upper()
    http.GET = QueryDict(mutable=True)  # type: ignore[assignment]  # as HttpRequest() sets it
    http.GET.update(query)
    return Request(http)


def scope_of(view: Any, method: str, operation: dict[str, Any]) -> tuple[str | None, str]:
    """Return the scope an operation needs and how to say it ("read; write with save=true")."""
    getter = getattr(view, "get_required_scope", None)
    if not callable(getter):
        scope = getattr(view, "required_scope", None)
        return scope, f"`{scope}`"
    base = getter(probe(method, {}))
    text = [f"`{base}`"]
    for param in operation.get("parameters") or []:
        if param.get("in") == "query" and (param.get("schema") or {}).get("type") == "boolean":
            other = getter(probe(method, {param["name"]: "true"}))
            if other != base:
                text.append(f"`{other}` with `{param['name']}=true`")
    return base, "; ".join(text)


def describe_scope(operation: dict[str, Any], view: Any, method: str) -> None:
    """Say in the operation's description which scope it needs, and which keys have it."""
    scope, text = scope_of(view, method, operation) if view is not None else (None, "")
    if scope not in SCOPES:
        text = "none declared: every key is refused (a bug)"
    else:
        holders = [s for s in SCOPES if scope in GRANTS[s]]
        names = [f"`{s}`" for s in holders]
        either = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        text += f" (keys with {either})"
        operation["x-required-scope"] = scope
    description = operation.get("description") or ""
    operation["description"] = (description + "\n\n" if description else "") + f"Scope: {text}."


# --- exact field and parameter schemas ----------------------------------------------
#
# The schema must say exactly what the server accepts (make fuzz checks both
# ways). drf-spectacular leaves out what DRF enforces silently; AutoSchema adds it:
#
# - a CharField refuses "" unless allow_blank (minLength 1), a text of only
#   whitespace when it trims, and a NUL character (DRF's own validator): a pattern;
# - a JSONField without allow_null refuses null: any JSON type but null;
# - a StrictSerializer refuses unknown fields: additionalProperties false;
# - a view that reads its query with `parse_query(Serializer, request)` gets
#   its query parameters from that serializer (types, bounds, required; an
#   empty value where the serializer takes it as "not given");
# - `style={"openapi": {...}}` on any field merges a hand-written constraint
#   (an enum the service checks, a pattern) into its schema (None removes a key);
# - every operation documents gunicorn's 414 and 431 (HTML); under /api/ and /ofrep/
#   the middleware's JSON 431, 400 and (with a body) 413; `too_large` on a request
#   serializer adds the service's own reason for a 413.
#
# New endpoints come out exact when they follow that: input serializers that
# subclass StrictSerializer with the real bounds (min_value, max_length,
# ChoiceField) and `parse_query(TheQuerySerializer, request)` for queries.

# What Python's str.strip() removes (DRF trims with it): not ECMA's \s.
PY_SPACE = "\\t\\n\\u000b\\u000c\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"  # noqa: E501
NO_NUL = "^[^\\u0000]*$"
SOME_TEXT = f"^[^\\u0000]*[^\\u0000{PY_SPACE}][^\\u0000]*$"
# Any JSON the shared parser accepts: no NUL in a string or an object key.
JSON_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_OBJECT = {
    "type": "object",
    "additionalProperties": JSON_REF,
    "propertyNames": {"pattern": NO_NUL},
}
NOT_NULL = {
    "anyOf": [
        JSON_OBJECT,
        {"type": "array", "items": JSON_REF},
        {"type": "string", "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
    ]
}
JSON_VALUE = {**NOT_NULL, "nullable": True}
# The JSON values Python takes as false, besides null and {} (`body or {}`).
FALSY: list[Any] = [False, 0, "", []]


def exact_field(field: Any, schema: dict[str, Any]) -> None:
    """Add to `schema` what DRF enforces on `field` that drf-spectacular does not say."""
    from rest_framework import serializers

    if getattr(field, "read_only", False):
        return
    if isinstance(field, serializers.CharField) and schema.get("type") == "string":
        if "enum" not in schema and "pattern" not in schema and "format" not in schema:
            trims = field.trim_whitespace
            schema["pattern"] = SOME_TEXT if trims and not field.allow_blank else NO_NUL
        if not field.allow_blank and not schema.get("minLength"):
            schema["minLength"] = 1
    if isinstance(field, serializers.JSONField) and not {"type", "anyOf", "$ref"} & schema.keys():
        schema.update(JSON_VALUE if field.allow_null else NOT_NULL)
    if isinstance(field, serializers.DictField) and schema.get("additionalProperties") == {}:
        schema.update(JSON_OBJECT)
    if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
        # `Nested(many=True, min_length=…, max_length=…)`: drf-spectacular leaves them out.
        for attribute, key in (("min_length", "minItems"), ("max_length", "maxItems")):
            bound = getattr(field, attribute, None)  # DRF sets both; its stubs lack them
            if bound is not None:
                schema[key] = bound
    merge(schema, (getattr(field, "style", None) or {}).get("openapi") or {})


def merge(schema: dict[str, Any], extra: dict[str, Any]) -> None:
    """Put `extra`'s keys into `schema`; a None value removes the key."""
    for key, value in extra.items():
        if value is None:
            schema.pop(key, None)
        else:
            schema[key] = value


class AutoSchema(_AutoSchema):
    """drf-spectacular's AutoSchema, with the exact constraints described above."""

    direction = "response"

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        if self.direction == "request":  # what the server accepts, not what it answers
            exact_field(field, schema)

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        from echopilot.serializers import StrictSerializer

        outer, self.direction = self.direction, direction
        try:
            result: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        finally:
            self.direction = outer
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            result["additionalProperties"] = False
        if result.get("description") == StrictSerializer.__doc__:
            del result["description"]  # inherited, says nothing about this body
        if direction == "request":
            merge(result, getattr(serializer, "openapi", None) or {})
            if getattr(serializer, "falsy_body_is_empty", False):
                # The view reads `request.data or {}`: any falsy JSON is no body.
                result = {"anyOf": [result, {"enum": FALSY}], "nullable": True}
        return result

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        # A body the service refuses (413) though it fits the upload limit. Only asked
        # where there is a body: elsewhere drf-spectacular would guess a serializer.
        body = operation and "requestBody" in operation and self.get_request_serializer()
        reason = getattr(force_instance(body), "too_large", None)
        if operation and reason:
            content = {"application/json": {"schema": error_ref(self.path)}}
            too_large = {"description": f"{reason}. {TOO_LARGE}", "content": content}
            operation["responses"].setdefault("413", too_large)
        return operation

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        query = query_serializer(self.view, self.method)
        if query is None:
            return parameters
        by_name = {(p["name"], p["in"]): p for p in parameters}
        for name, field in force_instance(query).fields.items():
            schema = self._map_serializer_field(field, "request")
            outer, self.direction = self.direction, "request"
            self._insert_field_validators(field, schema)
            self.direction = outer
            schema.pop("readOnly", None)
            param = by_name.get((name, "query"))
            if param is None:
                param = {"in": "query", "name": name}
                parameters.append(param)
            if accepts_empty(query, name):
                schema = {"anyOf": [schema, {"type": "string", "enum": [""]}]}
            param["schema"] = schema
            param["required"] = bool(field.required)
            if field.help_text and not param.get("description"):
                param["description"] = str(field.help_text)
        return parameters


def accepts_empty(serializer: Any, name: str) -> bool:
    """Return whether `?name=` (an empty value) passes the query serializer."""
    probe = serializer(data={name: ""})
    probe.is_valid()
    return name not in probe.errors


QUERY_CALL = re.compile(r"\bparse_query\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*,")


def query_serializer(view: Any, method: str) -> Any:
    """Return the serializer the view's handler passes to `parse_query`, if any."""
    handler = getattr(type(view), method.lower(), None)
    if handler is None:
        return None
    try:
        source = inspect.getsource(handler)
    except (OSError, TypeError):
        return None
    found = QUERY_CALL.search(source)
    if found is None:
        return None
    target: Any = sys.modules[handler.__module__]
    for part in found.group(1).split("."):
        target = getattr(target, part, None)
    return target
