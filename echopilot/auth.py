"""`X-Dash-Key` authentication for everything under /api/ and /ofrep/.

The key may also arrive as `Authorization: Bearer <key>` or `X-API-Key`
(OpenFeature clients send those). `DASHBOARD_KEY` holds one or more
comma-separated keys so a key can be rotated without downtime. With no key
configured every request is refused with 503: the API never runs open.
"""

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication

from echopilot.cache import LocalFallback
from echopilot.errors import ApiError


class NotConfigured(ApiError):
    status_code = 503
    code = "not_configured"
    default_detail = "DASHBOARD_KEY is not configured: the API refuses every request."


def configured_keys() -> list[bytes]:
    return [k.strip().encode() for k in settings.DASHBOARD_KEY.split(",") if k.strip()]


def key_label(key: bytes) -> str:
    """Name a key without revealing it: a short hash, used in `actor` fields."""
    return "k_" + hashlib.sha256(key).hexdigest()[:8]


class ApiClient:
    """The caller behind a valid key (DRF's `request.user`)."""

    is_authenticated = True
    is_active = True
    is_staff = False

    def __init__(self, label: str):
        self.label = label
        self.actor = f"api:{label}"

    def __str__(self) -> str:
        return self.actor


def admin_actor(request: HttpRequest) -> str:
    """Return the `actor` recorded for a change made in the admin."""
    return f"admin:{request.user.get_username()}"


def presented_key(request: HttpRequest) -> bytes | None:
    """Return the key the request carries, from whichever header it used."""
    meta = request.META
    key = meta.get("HTTP_X_DASH_KEY") or meta.get("HTTP_X_API_KEY")
    if not key:
        auth = meta.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            key = value.strip()
    return key.encode() if key else None


def match_key(key: bytes, keys: list[bytes]) -> bytes | None:
    """Return the key of `keys` equal to `key`, comparing in constant time."""
    found = None
    for candidate in keys:
        # Compare against every key so timing does not reveal which matched.
        if hmac.compare_digest(candidate, key):
            found = candidate
    return found


class DashKeyAuthentication(BaseAuthentication):
    """Authenticate a request by its dashboard key."""

    keyword = "Bearer"

    def authenticate(self, request):
        key = presented_key(request)
        if key is None:
            return None
        keys = configured_keys()
        if not keys:
            raise NotConfigured()
        matched = match_key(key, keys)
        if matched is None:
            raise exceptions.AuthenticationFailed("Invalid dashboard key.")
        return ApiClient(key_label(matched)), matched

    def authenticate_header(self, request):
        # Without this DRF answers 403 where 401 is right.
        return 'Bearer realm="api", X-Dash-Key'


class HasDashKey(permissions.BasePermission):
    """Allow only requests authenticated by a dashboard key."""

    def has_permission(self, request, view):
        if isinstance(request.user, ApiClient):
            return True
        if not configured_keys():
            raise NotConfigured()
        raise exceptions.NotAuthenticated("Send the dashboard key in the X-Dash-Key header.")


class HasDashKeyOrStaff(HasDashKey):
    """Allow a dashboard key or a staff user logged in to the admin (API docs)."""

    def has_permission(self, request, view):
        user = request.user
        if isinstance(user, ApiClient):
            return True
        if user is not None and user.is_authenticated:
            if user.is_active and user.is_staff:
                return True
            raise exceptions.PermissionDenied("Staff rights are required.")
        return super().has_permission(request, view)


class DashKeyThrottle(throttling.SimpleRateThrottle):
    """Rate-limit per key when `API_THROTTLE_RATE` (e.g. `100/min`) is set."""

    scope = "dashkey"
    # Redis down: count in this process instead of failing the request.
    cache = LocalFallback()  # type: ignore[assignment]  # duck-types get/set

    def get_rate(self):
        return settings.API_THROTTLE_RATE or None

    def allow_request(self, request, view):
        # The rate is read per request so tests and operators can change it.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        user = request.user
        ident = user.label if isinstance(user, ApiClient) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
