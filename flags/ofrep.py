"""OpenFeature Remote Evaluation Protocol (OFREP) endpoints under /ofrep/v1/.

Shapes follow open-feature/protocol `service/openapi.yaml`: success
`{key, value, reason, variant, metadata}`, failure `{key, errorCode,
errorDetails}`, bulk `{flags: [...]}` with an ETag. Errors here use OFREP's
shape, except authentication (401) and a missing key configuration (503),
which keep the API's JSON error body. Clients are stricter than the spec, so
`variant` and `errorDetails` are always present and `Retry-After` is whole
seconds (the Python provider cannot parse a date there).
"""

import hashlib
import json
import logging
import math
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from echopilot.auth import NotConfigured
from echopilot.errors import exception_handler as api_exception_handler
from echopilot.renderers import dumps
from echopilot.secrets import redact
from echopilot.serializers import ErrorSerializer
from flags import selectors
from flags.engine import (
    Evaluation,
    FlagError,
    FlagNotFound,
    PrerequisiteFailed,
    Reason,
    context_problem,
)
from flags.limits import MAX_DEPTH
from flags.serializers import (
    OfrepBulkFailure,
    OfrepBulkSuccess,
    OfrepEvaluationRequest,
    OfrepFailure,
    OfrepSuccess,
)

logger = logging.getLogger("flags.ofrep")

AUTH_ERRORS = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, NotConfigured)


class OfrepError(exceptions.APIException):
    """An OFREP failure: `code` is the OpenFeature error code."""

    def __init__(self, code: str, detail: str, status_code: int = 400):
        super().__init__(detail)
        self.code = code
        self.status_code = status_code


def ofrep_exception_handler(exc, context):
    """Render failures in OFREP's shape; leave 401/503 to the API's handler."""
    if isinstance(exc, AUTH_ERRORS):
        return api_exception_handler(exc, context)
    headers = {}
    if isinstance(exc, OfrepError):
        status, code, detail = exc.status_code, exc.code, str(exc.detail)
    elif isinstance(exc, exceptions.ParseError):
        status, code, detail = 400, "PARSE_ERROR", str(exc.detail)
    elif isinstance(exc, exceptions.Throttled):
        status, code, detail = 429, "GENERAL", "Rate limit reached."
        wait = getattr(exc, "wait", None)  # set by DRF's throttling
        headers["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    elif isinstance(exc, exceptions.APIException):
        status, code, detail = exc.status_code, "GENERAL", str(exc.detail)
    else:
        logger.exception("OFREP evaluation failed")
        status, code, detail = 500, "GENERAL", "Internal error; it has been logged."
    key = context["kwargs"].get("key")
    # As the API's error body does: a detail may echo input that holds a secret.
    body = {"errorCode": code, "errorDetails": redact(detail)}
    if key is not None:
        body = {"key": key, **body}
    return Response(body, status=status, headers=headers)


def parse_context(request: Request) -> dict[str, Any]:
    """Return the request's evaluation context (`{}` without a body or `context`)."""
    # The raw body, not `request.data`: OFREP clients need not send a JSON
    # Content-Type (the README's `curl -d` sends a form type, which DRF's parser
    # refuses with 415), and a context nested too deep or holding NUL is OFREP's
    # INVALID_CONTEXT, where the shared parser would answer PARSE_ERROR.
    raw = request.body
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise OfrepError("PARSE_ERROR", f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        detail = f"The body is nested too deeply (context: at most {MAX_DEPTH} levels)."
        raise OfrepError("INVALID_CONTEXT", detail) from None
    if not isinstance(body, dict):
        raise OfrepError("PARSE_ERROR", "The body must be a JSON object.")
    context = body.get("context")
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise OfrepError("INVALID_CONTEXT", "context must be a JSON object.")
    key = context.get("targetingKey")
    if key is not None and not isinstance(key, str):
        raise OfrepError("INVALID_CONTEXT", "context.targetingKey must be a string.")
    # Checked here so rollout hashing and the response never meet a bad string.
    problem = context_problem(context)
    if problem:
        raise OfrepError("INVALID_CONTEXT", problem)
    return context


def success(key: str, flag_type: str, result: Evaluation) -> dict[str, Any]:
    metadata: dict[str, Any] = {"type": flag_type}
    reason = result.reason
    if isinstance(result, PrerequisiteFailed):
        # OFREP has no such reason: the default was served, and the metadata says why.
        reason = Reason.DEFAULT
        metadata["prerequisiteFailed"] = result.prerequisite
    return {
        "key": key,
        "value": result.value,
        "reason": reason,
        "variant": result.variant,
        "metadata": metadata,
    }


def failure(key: str, exc: FlagError) -> dict[str, Any]:
    return {"key": key, "errorCode": exc.code, "errorDetails": redact(exc.detail)}


class OfrepView(APIView):
    required_scope = "evaluate"

    def get_exception_handler(self):
        return ofrep_exception_handler


class OfrepEvaluateView(OfrepView):
    """Evaluate one flag (OFREP single flag evaluation)."""

    @extend_schema(
        operation_id="ofrep_evaluate_flag",
        request=OfrepEvaluationRequest,
        responses={
            200: OfrepSuccess,
            400: OfrepFailure,
            401: ErrorSerializer,
            404: OfrepFailure,
            429: OpenApiResponse(description="Rate limited; Retry-After in seconds."),
        },
    )
    def post(self, request, key):
        context = parse_context(request)
        try:
            flag_type, result = selectors.evaluate_typed(key, context)
        except FlagError as exc:
            status = 404 if isinstance(exc, FlagNotFound) else 400
            raise OfrepError(exc.code, exc.detail, status_code=status) from None
        return Response(success(key, flag_type, result))


def etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


class OfrepBulkView(OfrepView):
    """Evaluate every flag for one context (OFREP bulk evaluation), with an ETag."""

    @extend_schema(
        operation_id="ofrep_evaluate_flags",
        request=OfrepEvaluationRequest,
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER)],
        responses={
            200: OfrepBulkSuccess,
            304: OpenApiResponse(description="Not modified (ETag matched)."),
            400: OfrepBulkFailure,
            401: ErrorSerializer,
            429: OpenApiResponse(description="Rate limited; Retry-After in seconds."),
        },
    )
    def post(self, request):
        context = parse_context(request)
        results = [
            failure(key, outcome) if isinstance(outcome, FlagError) else success(key, kind, outcome)
            for key, kind, outcome in selectors.evaluate_all(context)
        ]
        content = dumps({"flags": results}).encode()
        # The ETag is of the evaluated body, so it changes with flags and context alike.
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(content, content_type="application/json")
        response["ETag"] = etag
        return response
