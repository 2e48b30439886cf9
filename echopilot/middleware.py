"""Request checks that come before any view: under /api/ and /ofrep/ they
answer in the JSON error format instead of Django's HTML pages."""

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from echopilot.errors import error_body, wants_json


def query_is_utf8(query_string: str) -> bool:
    """Return whether the percent-decoded query string is valid UTF-8.

    Django decodes it with replacement characters, so two different invalid
    user ids would otherwise arrive as the same U+FFFD text. WSGI hands the
    raw bytes over as latin-1 text, so unescaped bytes are checked too.
    """
    if query_string.isascii() and "%" not in query_string:
        return True  # the common case, on every request: nothing to decode
    raw = unquote_to_bytes(query_string.encode("latin-1", "replace"))
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class ApiRequestGuard:
    """Refuse, in JSON, a body over the upload limit (413) and a query that is not UTF-8 (400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if wants_json(request):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and declared_length(request) > limit:
                detail = f"The request body is over the limit of {limit} bytes."
                return refuse(request, "payload_too_large", detail, 413)
            if not query_is_utf8(request.META.get("QUERY_STRING", "")):
                return refuse(request, "invalid", "The query string is not valid UTF-8.", 400)
        return self.get_response(request)


def refuse(request: HttpRequest, code: str, detail: str, status: int) -> JsonResponse:
    """Answer in the API's error format, or OFREP's under /ofrep/."""
    if request.path.startswith("/ofrep/"):
        body = {"errorCode": "GENERAL", "errorDetails": detail}
        return JsonResponse(body, status=status)
    return JsonResponse(error_body(code, detail), status=status)
