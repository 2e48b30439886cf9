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
