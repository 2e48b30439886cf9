"""Security checks and limits the core applies to every app (docs/security.md).

- `echopilot.W101`: the interpreter's `http.cookies` is known to be slow on
  hostile cookies (CVE-2024-7592); `middleware.CookieGuard` bounds the damage.
- Admin logins: 10 failures in 15 minutes for one username, or from one client
  address, refuse that username or address for 15 minutes, even with the right
  password (`RateLimitedModelBackend`, `LoginForm`); counted in the cache.
- `client_address()`: `REMOTE_ADDR`, or the `X-Forwarded-For` entry written by
  the outermost of `TRUSTED_PROXY_COUNT` proxies in front.
"""

import hashlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.checks import Tags, Warning, register
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from echopilot.cache import LocalFallback
from echopilot.text import single_line

logger = logging.getLogger("echopilot.security")

# First release of each line whose http.cookies unquotes in linear time.
COOKIES_FIXED = {(3, 8): 20, (3, 9): 20, (3, 10): 15, (3, 11): 10, (3, 12): 6}


def cookies_vulnerable(version: tuple[int, ...] | None = None) -> bool:
    """Return whether this interpreter's `http.cookies` has CVE-2024-7592 (quadratic unquoting)."""
    major, minor, micro = (version or sys.version_info[:3])[:3]
    if (major, minor) >= (3, 13):
        return False
    fixed = COOKIES_FIXED.get((major, minor))
    return fixed is None or micro < fixed


@register(Tags.security)
def interpreter_cookies(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if not cookies_vulnerable():
        return []
    version = ".".join(str(part) for part in sys.version_info[:3])
    return [
        Warning(
            f"Python {version} parses cookies in quadratic time (CVE-2024-7592): a few "
            "requests with large hostile cookies can keep a worker busy.",
            hint="Upgrade to Python 3.11.10, 3.12.6 or later. Meanwhile requests with over "
            "8 KB of cookies are refused with 431 (echopilot.middleware.CookieGuard).",
            id="echopilot.W101",
        )
    ]


def client_address(request: HttpRequest) -> str:
    """Return the client's address: `REMOTE_ADDR`, unless proxies are trusted.

    With `TRUSTED_PROXY_COUNT = n`, the n-th `X-Forwarded-For` entry from the
    right is the client (what the outermost trusted proxy saw); the entries to
    its left are whatever the client sent, and never trusted. This is DRF's
    `NUM_PROXIES` rule, so throttles and login limits agree.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "")
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if count <= 0 or not forwarded:
        return remote
    entries = [part.strip() for part in str(forwarded).split(",")]
    return entries[-min(count, len(entries))] or remote


@dataclass(frozen=True)
class FailureLimit:
    """At most `limit` failures per `window` seconds; then refused for `lock` seconds."""

    name: str
    limit: int
    window: float
    lock: float

    def _key(self, ident: str, kind: str) -> str:
        digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]
        return f"security:{self.name}:{kind}:{digest}"

    def locked_for(self, ident: str) -> float:
        """Return the seconds `ident` stays refused (0: not refused)."""
        until = _store.get(self._key(ident, "lock"), 0.0)
        return max(0.0, float(until) - time.time())

    def fail(self, ident: str) -> bool:
        """Count one failure of `ident`; return True when it locks `ident` now."""
        now = time.time()
        key = self._key(ident, "fails")
        recent = [t for t in _store.get(key, []) if t > now - self.window] + [now]
        _store.set(key, recent[-self.limit :], self.window)
        if len(recent) < self.limit:
            return False
        _store.set(self._key(ident, "lock"), now + self.lock, self.lock)
        _store.set(key, [], self.window)
        return True

    def reset(self, ident: str) -> None:
        _store.set(self._key(ident, "fails"), [], self.window)


# The shared cache (Redis) when configured; this process's memory if it fails.
_store = LocalFallback()

LOGIN_USER = FailureLimit("login-user", limit=10, window=15 * 60, lock=15 * 60)
LOGIN_ADDRESS = FailureLimit("login-addr", limit=10, window=15 * 60, lock=15 * 60)


def _username(credentials: dict[str, Any]) -> str:
    return str(credentials.get("username") or "").strip().casefold()


def login_locked_for(request: HttpRequest | None, username: str) -> float:
    """Return the seconds logins for `username` from this client stay refused."""
    waits = [LOGIN_USER.locked_for(username.strip().casefold())]
    if request is not None:
        waits.append(LOGIN_ADDRESS.locked_for(client_address(request)))
    return max(waits)


def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any
) -> None:
    """Count a failed login against its username and client address."""
    username = _username(credentials)
    if login_locked_for(request, username):
        return  # refused while locked: not counted, so the lock ends on time
    address = client_address(request) if request is not None else ""
    for limit, ident, what in ((LOGIN_USER, username, "username"), (LOGIN_ADDRESS, address, "")):
        if ident and limit.fail(ident):
            logger.warning(
                "security: admin logins refused for %d minutes for %s %s after %d failures",
                limit.lock // 60,
                what or "address",
                # Typed by whoever tries: one line, cut, so it cannot forge log lines.
                single_line(username if what else address, limit=150),
                limit.limit,
            )


def _on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    LOGIN_USER.reset(str(user.get_username()).strip().casefold())


user_login_failed.connect(_on_login_failed, dispatch_uid="echopilot.security.login_failed")
user_logged_in.connect(_on_logged_in, dispatch_uid="echopilot.security.logged_in")


class RateLimitedModelBackend(ModelBackend):
    """Django's backend, refusing a username or address with too many recent failures."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get("username", "")
        if login_locked_for(request, str(name or "")):
            # PermissionDenied ends the backend chain: the right password fails too.
            logger.warning(
                "security: refused a login for %s (too many failures)",
                single_line(str(name or ""), limit=150),
            )
            raise PermissionDenied("too many failed logins")
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginForm(AdminAuthenticationForm):
    """The admin login form, saying so when logins are refused for a while."""

    def clean(self) -> dict[str, Any]:
        wait = login_locked_for(self.request, str(self.data.get("username") or ""))
        if wait:
            minutes = max(1, round(wait / 60))
            raise forms.ValidationError(
                f"Too many failed logins for this account or from this address. "
                f"Try again in {minutes} minutes.",
                code="locked",
            )
        return super().clean()
