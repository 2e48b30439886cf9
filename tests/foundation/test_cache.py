"""Redis that fails fast: short timeouts, a circuit breaker, and fallbacks."""

import pytest
from django.core.cache import caches

from echopilot import cache as resilient
from tests.processes import SilentServer, free_port


@pytest.fixture
def frozen_redis(settings):
    server = SilentServer()
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    settings.REDIS_TIMEOUT = 0.2
    settings.REDIS_BREAKER_SECONDS = 30
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "echopilot.cache.ResilientRedisCache",
            "LOCATION": settings.REDIS_URL,
        },
    }
    resilient.reset_breakers()
    yield server
    server.close()
    resilient.reset_breakers()


def test_a_frozen_redis_is_tried_once_then_skipped(frozen_redis):
    cache = caches["default"]
    with pytest.raises(resilient.CacheUnavailable):
        cache.get("k")
    tried = frozen_redis.accepted
    assert tried == 1
    for _ in range(20):
        with pytest.raises(resilient.CacheUnavailable):
            cache.set("k", 1)
    assert frozen_redis.accepted == tried  # the breaker kept every call away


def test_after_the_pause_one_call_tries_again(frozen_redis, settings):
    cache = caches["default"]
    with pytest.raises(resilient.CacheUnavailable):
        cache.get("k")
    (breaker,) = resilient._breakers.values()
    breaker.open_until = 0.0  # the pause is over
    with pytest.raises(resilient.CacheUnavailable):
        cache.get("k")
    assert frozen_redis.accepted == 2
    with pytest.raises(resilient.CacheUnavailable):
        cache.get("k")  # open again after the failed trial
    assert frozen_redis.accepted == 2


def test_a_working_redis_closes_the_breaker(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "echopilot.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:6379/5",
        },
    }
    resilient.reset_breakers()
    breaker = resilient.breaker_for("redis redis://127.0.0.1:6379/5")
    breaker.failed(OSError("earlier outage"))
    breaker.open_until = 0.0  # the pause is over
    caches["default"].set("echopilot-test", 1)
    assert caches["default"].get("echopilot-test") == 1
    assert not breaker.is_open


def test_get_or_miss_turns_an_outage_into_a_miss(frozen_redis):
    assert resilient.get_or_miss("k", "fallback") == "fallback"


@pytest.mark.django_db
def test_throttling_with_redis_down_counts_locally_and_never_500s(frozen_redis, api, settings):
    settings.API_THROTTLE_RATE = "3/min"
    codes = [api.get("/api/ping").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_flags_are_served_from_the_database_stamp_while_redis_is_frozen(frozen_redis, api):
    created = api.post(
        "/api/flags/set",
        {"key": "demo.flag", "value": True, "type": "boolean", "create": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    response = api.get("/api/flags/get")
    assert response.status_code == 200
    assert response.json()["flags"]["demo.flag"] is True  # the change, via the database stamp
    assert frozen_redis.accepted <= 1  # tried once, then skipped by the breaker


def test_a_closed_port_fails_like_a_frozen_server(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "echopilot.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    resilient.reset_breakers()
    with pytest.raises(resilient.CacheUnavailable):
        caches["default"].get("k")
