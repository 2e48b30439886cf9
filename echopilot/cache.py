"""Redis that fails fast: short timeouts and a circuit breaker around the cache.

With Redis down or frozen, every call would otherwise wait for redis-py's
timeout. `ResilientRedisCache` (the `default` cache when `REDIS_URL` is set)
gives each call the short `REDIS_TIMEOUT`, and after a failure skips Redis
altogether for `REDIS_BREAKER_SECONDS`: calls raise `CacheUnavailable` at
once, and callers fall back (flags and keys: the database stamp; throttling:
count locally, `local_fallback()`; plain reads: `get_or_miss()`). After the
pause one call tries Redis again and closes the breaker if it answers.
"""

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger("echopilot.cache")


class CacheUnavailable(Exception):
    """Redis failed, or failed recently enough that it is not being tried."""


class Breaker:
    """Open for `pause()` seconds after a failure; one trial call then decides."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.open_until = 0.0
        self.failures = 0
        self._lock = threading.Lock()

    @staticmethod
    def pause() -> float:
        return float(settings.REDIS_BREAKER_SECONDS)

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self.open_until:
                return False
            if self.failures:
                # Half-open: this caller tries; the others wait out another pause.
                self.open_until = now + self.pause()
            return True

    def succeeded(self) -> None:
        if self.failures:
            logger.warning("cache: %s answers again", self.name)
        with self._lock:
            self.failures = 0
            self.open_until = 0.0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.open_until = time.monotonic() + self.pause()
        if self.failures == 1:
            logger.error("cache: %s failed (%s); skipping it for %ss", self.name, exc, self.pause())

    @property
    def is_open(self) -> bool:
        return bool(self.failures)


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(name: str) -> Breaker:
    """Return the process-wide breaker of one Redis server."""
    with _breakers_lock:
        return _breakers.setdefault(name, Breaker(name))


def reset_breakers() -> None:
    """Close every breaker (tests; a new process starts closed anyway)."""
    with _breakers_lock:
        _breakers.clear()


class _GuardedClient:
    """Proxy to Django's Redis client: every call goes through the breaker."""

    def __init__(self, client: Any, breaker: Breaker) -> None:
        self._client = client
        self._breaker = breaker

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if not callable(method):
            return method  # type: ignore[no-any-return]

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not self._breaker.allow():
                raise CacheUnavailable(f"{self._breaker.name}: skipped after a recent failure")
            try:
                result = method(*args, **kwargs)
            except Exception as exc:  # redis-py raises its own and OSError subclasses
                self._breaker.failed(exc)
                raise CacheUnavailable(str(exc)) from exc
            self._breaker.succeeded()
            return result

        return guarded


class ResilientRedisCache(RedisCache):
    """Django's Redis cache with short timeouts and a circuit breaker."""

    # Set by RedisCache.__init__ (not in django-stubs).
    _servers: list[str]
    _class: type
    _options: dict[str, Any]

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._options = {**redis_timeout_options(), **self._options}
        self._breaker_name = "redis " + (server if isinstance(server, str) else ",".join(server))

    @cached_property
    def _cache(self) -> Any:
        client = self._class(self._servers, **self._options)
        return _GuardedClient(client, breaker_for(self._breaker_name))


def get_or_miss(key: str, default: Any = None, *, alias: str = "default") -> Any:
    """Return the cached value, or `default` when the cache is unavailable (a miss)."""
    try:
        return caches[alias].get(key, default)
    except CacheUnavailable:
        return default


class LocalFallback:
    """The shared cache while it works, this process's memory while it does not.

    For counters that may be approximate for a while (rate limits): an outage
    degrades them to per-process counts instead of failing the request.
    """

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias

    @property
    def local(self) -> BaseCache:
        return caches["local"]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return caches[self.alias].get(key, default)
        except Exception:
            return self.local.get(key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        try:
            caches[self.alias].set(key, value, timeout)
        except Exception:
            self.local.set(key, value, timeout)


def redis_timeout_options() -> dict[str, Any]:
    """Connection options: the short `REDIS_TIMEOUT` and no retries (the breaker decides)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = float(settings.REDIS_TIMEOUT)
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
