"""API-key authentication and scopes for everything under /api/ and /ofrep/.

A key arrives as `X-Dash-Key`, `Authorization: Bearer <key>` or `X-API-Key`
(OpenFeature clients send those). It is one of the comma-separated
`DASHBOARD_KEY` keys (scope `write`, actor `api:k_<first 8 hex of its
SHA-256>`; several allow rotation without downtime) or a stored key
(`echopilot.access`, actor `api:<name>`). Every view declares the scope it
needs, `required_scope` or `get_required_scope(request)`; `HasScope` answers
403 to a key without it and refuses a view that declares none. With no key
configured and no active stored key every request is refused with 503: the
API never runs open.
"""

import functools
import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from echopilot import access
from echopilot.access import registry
from echopilot.cache import LocalFallback
from echopilot.errors import ApiError

logger = logging.getLogger("echopilot.auth")


class NotConfigured(ApiError):
    status_code = 503
    code = "not_configured"
    default_detail = (
        "No API key is configured (DASHBOARD_KEY is empty and no stored key is active): "
        "the API refuses every request."
    )


class KeysUnavailable(ApiError):
    status_code = 503
    code = "unavailable"
    default_detail = access.KeyStoreUnavailable.default_detail


def key_label(key: bytes) -> str:
    """Name a key without revealing it: a short hash, used in `actor` fields."""
    return "k_" + hashlib.sha256(key).hexdigest()[:8]


@functools.lru_cache(maxsize=8)
def _env_keys(raw: str) -> tuple[tuple[bytes, str], ...]:
    # Cached on the setting's value, so a changed DASHBOARD_KEY is seen at once.
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
    return tuple((hashlib.sha256(k).digest(), key_label(k)) for k in keys)


def env_keys() -> tuple[tuple[bytes, str], ...]:
    """Return (sha256 digest, label) of each `DASHBOARD_KEY` key."""
    return _env_keys(settings.DASHBOARD_KEY)


def match_env_key(digest: bytes) -> str | None:
    """Return the label of the `DASHBOARD_KEY` key hashing to `digest`, in constant time."""
    found = None
    for candidate, label in env_keys():
        # Compare digests (fixed length) against every key, so the timing
        # reveals neither which key matched nor any key's length.
        if hmac.compare_digest(candidate, digest):
            found = label
    return found


def is_configured() -> bool:
    """Return whether any key can open the API (a `DASHBOARD_KEY` or an active stored key)."""
    if env_keys():
        return True
    try:
        return access.any_active()
    except access.KeyStoreUnavailable:
        raise KeysUnavailable() from None


# What a DASHBOARD_KEY key may do: everything.
ENV_SCOPES = ("write",)
ENV_GRANTED = access.granted(ENV_SCOPES)


class ApiClient:
    """The caller behind a valid key (DRF's `request.user`)."""

    is_authenticated = True
    is_active = True
    is_staff = False

    def __init__(
        self, label: str, scopes: tuple[str, ...], granted: frozenset[str], rate: str = ""
    ):
        self.label = label
        self.actor = f"api:{label}"
        self.scopes = scopes  # as the key was given them
        self.granted = granted  # every scope they satisfy (access.granted)
        self.rate = rate  # the key's own throttle rate; "" for API_THROTTLE_RATE

    def __str__(self) -> str:
        return self.actor


def admin_actor(request: HttpRequest) -> str:
    """Return the `actor` recorded for a change made in the admin."""
    return f"admin:{request.user.get_username()}"


def presented_key(request: HttpRequest) -> bytes | None:
    """Return the key the request carries, from whichever header it used, as sent.

    Nothing is stripped or case-folded: a key with extra whitespace, in
    another case or cut short is a different key and is refused.
    """
    meta = request.META
    key = meta.get("HTTP_X_DASH_KEY") or meta.get("HTTP_X_API_KEY")
    if not key:
        scheme, _, value = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and value:
            key = value
    return key.encode() if key else None


class DashKeyAuthentication(BaseAuthentication):
    """Authenticate a request by a `DASHBOARD_KEY` key or a stored API key."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, None] | None:
        # An address over its budget of keyless or failed requests is refused
        # before its key is looked at: guessing keys gets nowhere.
        FailedKeyThrottle().check(request)
        key = presented_key(request)
        if key is None:
            return None  # HasScope refuses it (401) and counts it
        try:
            return self.authenticate_credentials(key), None
        except exceptions.AuthenticationFailed:
            FailedKeyThrottle().record(request)
            raise

    def authenticate_credentials(self, key: bytes) -> ApiClient:
        digest = hashlib.sha256(key).digest()
        label = match_env_key(digest)
        if label is not None:
            return ApiClient(label, ENV_SCOPES, ENV_GRANTED)
        try:
            # A dict look-up by digest: see access.lookup for why its timing is safe.
            entry = access.lookup(digest)
        except access.KeyStoreUnavailable:
            raise KeysUnavailable() from None
        if entry is None:
            if not is_configured():
                raise NotConfigured()
            raise exceptions.AuthenticationFailed("Invalid dashboard key.")
        refusal = entry.refusal(registry.wall_clock())
        if refusal is not None:
            if not is_configured():
                raise NotConfigured()
            raise exceptions.AuthenticationFailed(refusal)
        access.mark_used(entry)
        return ApiClient(entry.name, entry.scopes, entry.granted, entry.rate)

    def authenticate_header(self, request: Request) -> str:
        # Without this DRF answers 403 where 401 is right.
        return 'Bearer realm="api", X-Dash-Key'


def required_scope(view: Any, request: Request) -> str | None:
    """Return the scope `view` declares for `request`, or None if it declares none."""
    getter = getattr(view, "get_required_scope", None)
    scope = getter(request) if callable(getter) else getattr(view, "required_scope", None)
    return scope if scope in access.ALL_SCOPES else None


class HasScope(permissions.BasePermission):
    """Allow a key whose scopes include the one the view declares."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, ApiClient):
            return check_scope(user, view, request)
        if not is_configured():
            raise NotConfigured()
        FailedKeyThrottle().record(request)
        raise exceptions.NotAuthenticated("Send the dashboard key in the X-Dash-Key header.")


# The name settings.REST_FRAMEWORK has used since before scopes.
HasDashKey = HasScope


def check_scope(client: ApiClient, view: Any, request: Request) -> bool:
    """Return True if `client` may call `view`; raise 403 `forbidden` otherwise."""
    needed = required_scope(view, request)
    if needed is None:
        # A bug: every keyed view must declare its scope. Fail closed.
        logger.error(
            "auth: %s.%s declares no valid required_scope; request refused",
            type(view).__module__,
            type(view).__name__,
        )
        raise exceptions.PermissionDenied(
            "This operation declares no scope, so no key may call it (a bug; it has been logged)."
        )
    if needed in client.granted:
        return True
    raise exceptions.PermissionDenied(
        f"This key has scope {', '.join(client.scopes)}; this operation needs scope {needed}."
    )


class HasDashKeyOrStaff(HasScope):
    """Allow a key with the view's scope or a staff user logged in to the admin (API docs)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, ApiClient) and user is not None and user.is_authenticated:
            if user.is_active and user.is_staff:
                return True
            raise exceptions.PermissionDenied("Staff rights are required.")
        return super().has_permission(request, view)


class DashKeyThrottle(throttling.SimpleRateThrottle):
    """Rate-limit per key: the key's own `rate`, else `API_THROTTLE_RATE` (e.g. `100/min`)."""

    scope = "dashkey"
    # Redis down: count in this process instead of failing the request.
    cache = LocalFallback()  # type: ignore[assignment]  # duck-types get/set

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None

    def allow_request(self, request: Request, view: Any) -> bool:
        # The rate is read per request so tests and operators can change it.
        user = request.user
        own = user.rate if isinstance(user, ApiClient) else ""
        self.rate = own or self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = f"key:{user.label}" if isinstance(user, ApiClient) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FailedKeyThrottle(throttling.SimpleRateThrottle):
    """Rate-limit requests without a valid key per client address (`API_THROTTLE_RATE`).

    A keyless or refused request is counted (`record`); once an address has
    used its rate, its requests get 429 before any key is checked (`check`),
    the right key included, until the window moves on. Off while
    `API_THROTTLE_RATE` is empty. The address is `security.client_address`
    (REMOTE_ADDR unless TRUSTED_PROXY_COUNT says otherwise).
    """

    scope = "nokey"
    cache = LocalFallback()  # type: ignore[assignment]  # duck-types get/set

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None

    def get_cache_key(self, request: Request, view: Any) -> str:
        from echopilot.security import client_address

        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def _load(self, request: Request) -> bool:
        """Read this address's recent history; return False when throttling is off."""
        self.rate = self.get_rate()
        if self.rate is None:
            return False
        num_requests, duration = self.parse_rate(self.rate)
        self.num_requests, self.duration = num_requests, duration
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - (duration or 0)]
        return True

    def check(self, request: Request) -> None:
        """Raise 429 if this address has used up its keyless/failed requests."""
        if self._load(request) and len(self.history) >= (self.num_requests or 0):
            raise exceptions.Throttled(self.wait())

    def record(self, request: Request) -> None:
        """Count one keyless or failed request of this address."""
        if self._load(request):
            self.throttle_success()
