"""Describe the dashboard-key authentication in the OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class DashKeyScheme(OpenApiAuthenticationExtension):
    target_class = "echopilot.auth.DashKeyAuthentication"
    name = "DashKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Dash-Key",
            "description": "Also accepted as `Authorization: Bearer <key>` or `X-API-Key`.",
        }


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
    "401": "Missing or wrong dashboard key.",
    "429": "Throttled (only when API_THROTTLE_RATE is set); see Retry-After.",
    "503": "DASHBOARD_KEY is not configured: the API refuses every request.",
}


def add_error_responses(result, generator, request, public):
    """Document the auth, throttling and bad-input errors on every keyed operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    # `Error` is echopilot.serializers.ErrorSerializer when a view declares it.
    schemas.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if not any(operation.get("security") or [{}]):
                continue  # public (health)
            wanted = dict(COMMON_ERRORS)
            if "requestBody" in operation or operation.get("parameters"):
                wanted["400"] = "Malformed JSON or invalid input; `detail` names the field."
            for status, description in wanted.items():
                operation["responses"].setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result
