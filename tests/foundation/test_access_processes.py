"""A revocation reaches every gunicorn worker within 5 seconds (with and without Redis)."""

import time

import pytest
import requests

from echopilot import access

REVOCATION_BOUND = 5.0


def ping(base: str, secret: str) -> requests.Response:
    # A new connection each time, so requests spread over both workers.
    return requests.get(
        f"{base}/api/ping", headers={"X-Dash-Key": secret, "Connection": "close"}, timeout=10
    )


def wait_until_every_answer_is(base: str, secret: str, status: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, f"no 20 answers {status} in a row within {timeout}s"
        streak = streak + 1 if ping(base, secret).status_code == status else 0


def use_redis(settings) -> dict:
    # The server's cache has the production prefix; share it.
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": "echopilot",
        },
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    return {"REDIS_URL": settings.REDIS_URL}


@pytest.mark.parametrize("redis", [False, True], ids=["reload", "redis-stamp"])
def test_revocation_reaches_both_workers_within_5_seconds(gunicorn_server, settings, redis):
    extra = use_redis(settings) if redis else {}
    base = gunicorn_server(workers=2, **extra)
    secret = access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli").secret
    wait_until_every_answer_is(base, secret, 200, timeout=10)

    access.apikey_revoke(name="shop-web", actor="cli")  # commits; publishes the stamp
    revoked = time.monotonic()
    last_accepted = None
    while time.monotonic() - revoked < REVOCATION_BOUND + 1.5:
        response = ping(base, secret)
        if response.status_code == 200:
            last_accepted = time.monotonic() - revoked
        else:
            assert (response.status_code, response.json()["detail"]) == (401, "key revoked")
    assert last_accepted is None or last_accepted < REVOCATION_BOUND, last_accepted
    if redis:
        assert last_accepted is None or last_accepted < 1.5, last_accepted
    for _ in range(20):
        assert ping(base, secret).status_code == 401


def test_a_rotated_key_works_on_both_workers_old_and_new(gunicorn_server, settings):
    base = gunicorn_server(workers=2)
    old = access.apikey_create(name="shop-web", scopes=["evaluate"], actor="cli").secret
    wait_until_every_answer_is(base, old, 200, timeout=10)
    new = access.apikey_rotate(name="shop-web", actor="cli", grace="1h").secret
    wait_until_every_answer_is(base, new, 200, timeout=REVOCATION_BOUND)
    wait_until_every_answer_is(base, old, 200, timeout=1)
