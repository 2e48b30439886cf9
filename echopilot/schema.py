"""Describe the API-key authentication, scopes and errors in the OpenAPI schema."""

from typing import Any

from django.http import HttpRequest, QueryDict
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from echopilot.access import GRANTS, SCOPES

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
    """Document scopes, and the auth, throttling and bad-input errors, on every keyed operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    # `Error` is echopilot.serializers.ErrorSerializer when a view declares it.
    schemas.setdefault("Error", ERROR_SCHEMA)
    info = result.setdefault("info", {})
    info["description"] = (info.get("description") or "") + SCOPE_TABLE
    ref = {"$ref": "#/components/schemas/Error"}
    views = operation_views(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if not any(operation.get("security") or [{}]):
                continue  # public (health)
            describe_scope(operation, views.get((path, method)), method)
            wanted = dict(COMMON_ERRORS)
            if "requestBody" in operation or operation.get("parameters"):
                wanted["400"] = "Malformed JSON or invalid input; `detail` names the field."
            for status, description in wanted.items():
                operation["responses"].setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result


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
