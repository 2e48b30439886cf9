"""One error format for the API: `{"ok": false, "error": code, "detail": text}`."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from echopilot import exceptions as domain
from echopilot.secrets import redact

logger = logging.getLogger("echopilot.api")


class ApiError(exceptions.APIException):
    """An error with its own status and machine code.

    Raise `ApiError(detail, code="unknown_flag", status_code=404)` or subclass
    it with class attributes `status_code`, `code` and `default_detail`.
    """

    status_code = 400
    code = "invalid"
    default_detail = "Invalid request."

    def __init__(self, detail=None, *, code=None, status_code=None, extra=None):
        self.code = code or self.code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        super().__init__(detail or self.default_detail, self.code)


# DRF exception class -> stable machine code.
CODES = [
    (exceptions.ParseError, "parse_error"),
    (exceptions.ValidationError, "invalid"),
    (exceptions.NotAuthenticated, "unauthorized"),
    (exceptions.AuthenticationFailed, "unauthorized"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


# Domain error kind -> HTTP status; the most specific class listed first.
STATUSES: list[tuple[type[domain.ServiceError], int]] = [
    (domain.TooLarge, 413),
    (domain.Invalid, 400),
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.UpstreamFailure, 502),
    (domain.NotConfigured, 503),
    (domain.ServiceError, 400),
]


def status_for(exc: domain.ServiceError) -> int:
    """Return the HTTP status a domain error is answered with."""
    return next(status for cls, status in STATUSES if isinstance(exc, cls))


def flatten(detail: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error detail into `field: message` lines."""
    if isinstance(detail, dict):
        lines = []
        for field, value in detail.items():
            name = "" if field == "non_field_errors" else str(field)
            lines.extend(flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name))
        return lines
    if isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            text = " ".join(str(v) for v in detail)
            return [f"{prefix}: {text}" if prefix else text]
        lines = []
        for i, value in enumerate(detail):
            lines.extend(flatten(value, f"{prefix}[{i}]" if prefix else f"[{i}]"))
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"ok": False, "error": code, "detail": redact(detail)}
    body.update(extra)
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every API exception in the JSON error format."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        # A body without a Content-Length that still runs over the limit.
        body = error_body("payload_too_large", "The request body is over the upload limit.")
        return Response(body, status=413)
    if isinstance(exc, domain.ServiceError):
        body = error_body(exc.code, exc.detail, **exc.extra)
        return Response(body, status=status_for(exc))
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers, in JSON under /api/

    if isinstance(exc, ApiError):
        code = exc.code
    else:
        code = next((c for cls, c in CODES if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = "; ".join(flatten(exc.detail)) or "Invalid input."
    else:
        detail = str(exc.detail)

    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    extra = getattr(exc, "extra", {}) or {}
    return Response(error_body(code, detail, **extra), status=exc.status_code, headers=headers)


def wants_json(request: HttpRequest) -> bool:
    return bool(request.path.startswith(("/api/", "/ofrep/")))


def handler404(request, exception=None):
    if request.path.startswith("/ofrep/"):
        # OFREP clients read OFREP's error shape.
        return JsonResponse(
            {"errorCode": "GENERAL", "errorDetails": "No such endpoint."}, status=404
        )
    if wants_json(request):
        return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if wants_json(request):
        return JsonResponse(
            error_body("server_error", "Internal error; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    from django.views.defaults import server_error

    return server_error(request)
