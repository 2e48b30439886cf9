"""Request checks that come before any view (under /api/ and /ofrep/ they
answer in the JSON error format instead of Django's HTML pages), and the
security headers every response gets (docs/security.md)."""

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

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


# Browsers keep one site's cookies far below this (a session and a CSRF cookie
# take about 100 bytes). Python's `http.cookies` unquoting, which Django runs on
# every cookie, is quadratic before 3.11.10/3.12.6 (CVE-2024-7592), and gunicorn
# joins repeated Cookie headers into one: without this cap 20 headers of 8 KB of
# backslashes keep a worker busy for half a minute.
MAX_COOKIE_BYTES = 8 * 1024
# Even 8 KB of backslashes takes a vulnerable interpreter 0.35 s to unquote;
# 256 escapes take about a millisecond. Cookies set by Django (session, CSRF,
# messages) hold none.
MAX_COOKIE_ESCAPES = 256

COOKIE_REFUSAL_HTML = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<title>431 Request Header Fields Too Large</title></head><body>"
    "<h1>Request Header Fields Too Large</h1>"
    "<p>Your browser sent more than {limit} bytes of cookies for this site. "
    "Delete this site's cookies and try again.</p></body></html>"
)


class CookieGuard:
    """Refuse (431) a request whose Cookie headers exceed `MAX_COOKIE_BYTES` in total,
    or hold more than `MAX_COOKIE_ESCAPES` backslashes.

    First in MIDDLEWARE: it looks only at the raw `HTTP_COOKIE` WSGI value (a
    `len()` of latin-1 text, so characters are bytes, and a count) and never
    parses it, so the refusal costs the same whatever the cookies hold.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("HTTP_COOKIE", "")
        detail = ""
        if len(raw) > MAX_COOKIE_BYTES:
            detail = (
                f"The request carries {len(raw)} bytes of cookies; the limit is {MAX_COOKIE_BYTES}."
            )
        elif raw.count("\\") > MAX_COOKIE_ESCAPES:
            detail = f"The cookies hold over {MAX_COOKIE_ESCAPES} backslash escapes."
        if detail:
            if wants_json(request):
                refusal: HttpResponse = refuse(request, "cookies_too_large", detail, 431)
            else:
                html = COOKIE_REFUSAL_HTML.format(limit=MAX_COOKIE_BYTES)
                refusal = HttpResponse(html, status=431, content_type="text/html; charset=utf-8")
            # First in MIDDLEWARE, so SecurityHeaders never sees this answer.
            patch_cache_control(refusal, no_store=True)
            add_policy(refusal)
            return refusal
        return self.get_response(request)


# Admin and API docs pages: scripts only from this site's files (Swagger UI's
# bootstrap script is served by the docs view itself, `?script`); styles may be
# inline (Swagger UI and Redoc set style attributes); Redoc runs a blob: worker.
PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# JSON is never a page: nothing may load from it or frame it.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


# Keyed views outside /api/ and /ofrep/, by URL name (echopilot.urls).
KEYED_VIEWS = frozenset({"metrics"})


def is_keyed(request: HttpRequest) -> bool:
    """Return whether the request went to a path that takes a key (refusals included)."""
    if wants_json(request):
        return True
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name in KEYED_VIEWS


class SecurityHeaders:
    """Add `Cache-Control: no-store` to every keyed answer, and a Content-Security-Policy.

    Keyed answers (flags, incidents, costs, metrics: everything under /api/ and
    /ofrep/, and /metrics) must not be kept by a browser or a shared cache.
    HTML pages (admin, API docs) get `PAGE_POLICY`, every other response
    `DATA_POLICY`; a view that sets its own policy keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_keyed(request):  # after the view: the URL is resolved by then
            patch_cache_control(response, no_store=True)
        add_policy(response)
        return response


def add_policy(response: HttpResponse) -> None:
    """Give `response` the Content-Security-Policy of its kind, unless it has one."""
    if "Content-Security-Policy" not in response:
        html = response.get("Content-Type", "").startswith("text/html")
        response["Content-Security-Policy"] = PAGE_POLICY if html else DATA_POLICY
