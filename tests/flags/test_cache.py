"""The per-process snapshot: zero queries between stamp checks, a change seen within 1 s."""

import time
import uuid

import pytest
import requests
from django.core.cache import caches
from rest_framework.test import APIRequestFactory

from flags import config, is_enabled, services, snapshot
from flags.models import Flag, FlagStamp
from flags.ofrep import OfrepEvaluateView
from flags.views import FlagGetView
from tests.conftest import TEST_KEY

factory = APIRequestFactory()
GET_VIEW = FlagGetView.as_view()
OFREP_VIEW = OfrepEvaluateView.as_view()
HEADERS = {"X-Dash-Key": TEST_KEY}


def get_flags():
    response = GET_VIEW(factory.get("/api/flags/get", HTTP_X_DASH_KEY=TEST_KEY))
    assert response.status_code == 200
    return response.data["flags"]


def ofrep(key):
    request = factory.post(
        f"/ofrep/v1/evaluate/flags/{key}",
        {"context": {"targetingKey": "u1"}},
        format="json",
        HTTP_X_DASH_KEY=TEST_KEY,
    )
    response = OFREP_VIEW(request, key=key)
    response.render()
    return response


def change_elsewhere(key, value):
    """Change a flag the way another process would: new row values, new stamp, no local hook."""
    Flag.objects.filter(key=key).update(value=value)
    stamp = uuid.uuid4().hex
    FlagStamp.objects.update_or_create(pk=1, defaults={"stamp": stamp})
    return stamp


def use_redis(settings, prefix):
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }


@pytest.fixture
def redis_cache(settings):
    use_redis(settings, f"flags-test-{uuid.uuid4().hex}")
    yield caches["default"]
    caches["default"].delete(snapshot.CACHE_KEY)


@pytest.mark.django_db
def test_between_checks_reads_run_zero_queries(seeded, clock, django_assert_num_queries):
    get_flags()  # warm
    with django_assert_num_queries(0):
        for _ in range(5):
            assert get_flags()["payments.live"] is True
            assert ofrep("payments.live").status_code == 200
            assert is_enabled("payments.live") is True
        clock.advance(0.99)
        get_flags()
    clock.advance(0.02)  # a second since the last check: one stamp query
    with django_assert_num_queries(1):
        get_flags()
        is_enabled("payments.live")


@pytest.mark.django_db
def test_another_process_change_is_seen_at_the_next_check(seeded, clock):
    assert get_flags()["ui.new_dashboard"] is False
    change_elsewhere("ui.new_dashboard", True)
    clock.advance(0.5)
    assert get_flags()["ui.new_dashboard"] is False  # not checked yet
    clock.advance(0.5)
    assert get_flags()["ui.new_dashboard"] is True
    assert is_enabled("ui.new_dashboard") is True


@pytest.mark.django_db
def test_a_local_change_is_served_at_once(seeded, clock):
    get_flags()
    services.flag_set(key="payments.live", actor="cli", value=False)
    assert get_flags()["payments.live"] is False


@pytest.mark.django_db
def test_with_redis_the_check_is_a_cache_read_not_a_query(
    seeded, clock, redis_cache, django_assert_num_queries
):
    get_flags()
    clock.advance(1.5)
    with django_assert_num_queries(0):
        get_flags()
    stamp = change_elsewhere("payments.live", False)
    clock.advance(1.5)
    assert get_flags()["payments.live"] is True  # the DB stamp alone is not looked at
    snapshot.publish_stamp(stamp)
    clock.advance(1.5)
    assert get_flags()["payments.live"] is False


def poll_until(url, key, expected, deadline):
    while True:
        value = requests.get(url, headers=HEADERS, timeout=10).json()["flags"][key]
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.mark.parametrize("redis", [False, True], ids=["db-stamp", "redis-stamp"])
def test_cross_process_change_is_served_within_one_second(gunicorn_server, settings, redis):
    extra = {}
    if redis:
        # The server's cache has the production prefix; share it.
        use_redis(settings, "echopilot")
        extra["REDIS_URL"] = settings.REDIS_URL
    config.flags_load()
    base = gunicorn_server(**extra)
    url = f"{base}/api/flags/get"
    assert requests.get(url, headers=HEADERS, timeout=10).json()["flags"]["payments.live"] is True

    # A row changed without a new stamp is never picked up: the server serves its snapshot.
    Flag.objects.filter(key="payments.live").update(value=False)
    time.sleep(1.2)
    assert requests.get(url, headers=HEADERS, timeout=10).json()["flags"]["payments.live"] is True

    # A change through the service (this process) reaches the server within one second:
    # once a full second has passed, the server's next request must check the stamp.
    services.flag_set(key="ui.new_dashboard", actor="cli", value=True)
    time.sleep(1.05)
    body = requests.get(url, headers=HEADERS, timeout=10).json()
    assert body["flags"]["ui.new_dashboard"] is True
    assert body["flags"]["payments.live"] is False  # reloaded everything


@pytest.mark.django_db
def test_a_reload_racing_a_local_change_is_not_kept(seeded, clock, monkeypatch):
    real_build = snapshot.build

    def build_then_change(stamp):
        built = real_build(stamp)
        # Another thread commits a change while this reload was reading.
        services.flag_set(key="payments.live", actor="cli", value=False)
        return built

    monkeypatch.setattr(snapshot, "build", build_then_change)
    assert get_flags()["payments.live"] is True  # the reload's own (older) view
    monkeypatch.setattr(snapshot, "build", real_build)
    assert get_flags()["payments.live"] is False  # not cached: the next read reloads


def fail_next_set(monkeypatch, cache) -> list:
    """Make the cache's next `set` (the after-commit publish) raise, as a Redis blip would."""
    real_set = cache.set
    failed = []

    def set_or_fail(*args, **kwargs):
        if not failed:
            failed.append(args)
            raise ConnectionError("redis: connection reset by peer")
        return real_set(*args, **kwargs)

    monkeypatch.setattr(cache, "set", set_or_fail)
    return failed


@pytest.mark.django_db
def test_a_failed_publish_is_served_by_other_processes_at_the_next_check(
    seeded, clock, redis_cache, monkeypatch, django_capture_on_commit_callbacks
):
    assert get_flags()["payments.live"] is True  # copies the database stamp to Redis
    assert redis_cache.get(snapshot.CACHE_KEY) == FlagStamp.objects.get(pk=1).stamp
    with monkeypatch.context() as m:
        # Act as another process: the writer's local invalidation does not reach us.
        m.setattr(snapshot, "invalidate", lambda: None)
        failed = fail_next_set(m, redis_cache)
        with django_capture_on_commit_callbacks(execute=True):
            services.flag_set(key="payments.live", actor="cli", value=False)
    assert failed  # the publish was attempted and failed
    clock.advance(1.0)
    assert get_flags()["payments.live"] is False
    # The reader found no stamp in Redis and copied the database one back.
    assert redis_cache.get(snapshot.CACHE_KEY) == FlagStamp.objects.get(pk=1).stamp


@pytest.mark.django_db
def test_a_redis_miss_costs_one_stamp_query_and_is_copied_back(
    seeded, clock, redis_cache, django_assert_num_queries
):
    get_flags()
    redis_cache.delete(snapshot.CACHE_KEY)  # expired, or dropped after a failed publish
    clock.advance(1.0)
    with django_assert_num_queries(1):
        get_flags()
    assert redis_cache.get(snapshot.CACHE_KEY) == FlagStamp.objects.get(pk=1).stamp
    clock.advance(1.0)
    with django_assert_num_queries(0):
        get_flags()


@pytest.mark.django_db
def test_a_publish_lost_with_its_process_is_served_within_the_cache_ttl(
    seeded, redis_cache, monkeypatch, django_capture_on_commit_callbacks
):
    # Real time: the Redis copy expires on Redis's clock.
    assert snapshot.CACHE_TTL <= 5
    assert get_flags()["payments.live"] is True  # copies the stamp with CACHE_TTL
    start = time.monotonic()
    with monkeypatch.context() as m:
        m.setattr(snapshot, "invalidate", lambda: None)  # another process, as above
        m.setattr(snapshot, "publish_stamp", lambda stamp: None)  # died before publishing
        with django_capture_on_commit_callbacks(execute=True):
            services.flag_set(key="payments.live", actor="cli", value=False)
    deadline = start + snapshot.CACHE_TTL + snapshot.CHECK_INTERVAL + 1.0
    while get_flags()["payments.live"] is True and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get_flags()["payments.live"] is False


def test_cross_process_change_with_a_failed_publish_is_served_within_one_second(
    gunicorn_server, settings, monkeypatch
):
    use_redis(settings, "echopilot")  # the server's prefix
    cache = caches["default"]
    cache.delete(snapshot.CACHE_KEY)
    config.flags_load()
    base = gunicorn_server(REDIS_URL=settings.REDIS_URL)
    url = f"{base}/api/flags/get"
    assert (
        requests.get(url, headers=HEADERS, timeout=10).json()["flags"]["ui.new_dashboard"] is False
    )
    assert cache.get(snapshot.CACHE_KEY) is not None  # the server reads its stamp from Redis

    failed = fail_next_set(monkeypatch, cache)
    services.flag_set(key="ui.new_dashboard", actor="cli", value=True)  # commits: publish fails
    assert failed
    time.sleep(1.05)
    body = requests.get(url, headers=HEADERS, timeout=10).json()
    assert body["flags"]["ui.new_dashboard"] is True
    cache.delete(snapshot.CACHE_KEY)
