"""Stored API keys over the API: scopes, revocation, expiry, rotation, DASHBOARD_KEY, caching."""

import hashlib
import uuid

import pytest
from django.core.cache import caches
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from echopilot import access
from echopilot.access import registry
from echopilot.models import ApiKey
from flags.models import FlagChange
from tests.conftest import OTHER_KEY, TEST_KEY

pytestmark = pytest.mark.django_db


class Clocks:
    """The registry's monotonic and wall clocks, stepped together."""

    def __init__(self):
        self.mono = 1000.0
        self.wall = timezone.now().timestamp()

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


@pytest.fixture
def clocks(monkeypatch) -> Clocks:
    fake = Clocks()
    monkeypatch.setattr(registry, "clock", lambda: fake.mono)
    monkeypatch.setattr(registry, "wall_clock", lambda: fake.wall)
    return fake


@pytest.fixture
def issue(django_capture_on_commit_callbacks):
    """Create a key as the command does (its commit callbacks run); return its secret."""

    def make(name: str, *scopes: str, **options) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            return access.apikey_create(
                name=name, scopes=scopes or ["evaluate"], actor="cli", **options
            ).secret

    return make


def call(secret, path="/api/ping", method="get", header="HTTP_X_DASH_KEY", **data):
    client = APIClient()
    kwargs = {header: secret} if secret is not None else {}
    if method == "post":
        return client.post(path, data, format="json", **kwargs)
    return client.get(path, data, **kwargs)


def error(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body.get("error"), body.get("detail")


# --- scopes -----------------------------------------------------------------------


def test_an_evaluate_key_evaluates_and_is_refused_everything_else(issue):
    secret = issue("shop-web", "evaluate")
    assert call(secret).json() == {"ok": True}
    assert call(secret, "/api/flags/get").status_code == 200
    assert call(secret, "/api/exp/assign", experiment="x", user="u").status_code != 403
    status, code, detail = error(call(secret, "/api/flags/history"))
    assert (status, code) == (403, "forbidden")
    assert detail == "This key has scope evaluate; this operation needs scope read."
    status, code, detail = error(call(secret, "/api/flags/set", "post", key="a.b", value=True))
    assert (status, code) == (403, "forbidden") and "needs scope write" in detail
    assert call(secret, "/api/schema/").status_code == 403  # the docs need read


def test_a_read_key_reads_and_evaluates_but_does_not_write(issue):
    secret = issue("dashboard", "read")
    assert call(secret, "/api/flags/history").status_code == 200
    assert call(secret, "/api/flags/get").status_code == 200
    assert call(secret, "/api/costs/report").status_code == 200
    saving = call(secret, "/api/costs/report", save="true")
    assert error(saving)[:2] == (403, "forbidden") and "scope read" in error(saving)[2]
    assert call(secret, "/api/flags/set", "post", key="a.b", value=True).status_code == 403
    assert call(secret, "/api/schema/").status_code == 200  # the docs are a read


def test_metrics_and_alertmanager_keys_open_nothing_else(issue):
    metrics = issue("prometheus", "metrics")
    hook = issue("alertmanager", "alertmanager")
    for secret, name in ((metrics, "metrics"), (hook, "alertmanager")):
        status, code, detail = error(call(secret))
        assert (status, code) == (403, "forbidden")
        assert detail == f"This key has scope {name}; this operation needs scope evaluate."
        assert call(secret, "/api/flags/history").status_code == 403
    # The webhook passes the key check with its own key (and fails on the empty body).
    assert call(hook, "/api/incidents/alertmanager", "post").status_code == 400
    assert call(metrics, "/api/incidents/alertmanager", "post").status_code == 403


def test_a_write_key_changes_flags_as_its_own_actor(issue):
    secret = issue("deploy-bot", "write")
    body = {"key": "ops.banner", "value": True, "create": True, "type": "boolean"}
    response = call(secret, "/api/flags/set", "post", **body)
    assert response.status_code in (200, 201), response.content
    assert FlagChange.objects.get().actor == "api:deploy-bot"


def test_several_scopes_add_up(issue):
    secret = issue("combo", "evaluate", "alertmanager")
    assert call(secret).status_code == 200
    assert call(secret, "/api/incidents/alertmanager", "post").status_code == 400
    detail = error(call(secret, "/api/flags/history"))[2]
    assert detail == "This key has scope evaluate, alertmanager; this operation needs scope read."


class Undeclared(APIView):
    def get(self, request):
        return Response({"ok": True})


def test_a_view_without_a_scope_is_refused_to_every_key_and_logged(caplog):
    request = APIRequestFactory().get("/api/undeclared", HTTP_X_DASH_KEY=TEST_KEY)
    response = Undeclared.as_view()(request)
    assert response.status_code == 403
    assert response.data["error"] == "forbidden" and "declares no scope" in response.data["detail"]
    assert "Undeclared declares no valid required_scope" in caplog.text


def test_an_unknown_scope_name_on_a_view_counts_as_none():
    class Typo(Undeclared):
        required_scope = "writes"

    request = APIRequestFactory().get("/api/typo", HTTP_X_DASH_KEY=TEST_KEY)
    assert Typo.as_view()(request).status_code == 403


# --- DASHBOARD_KEY ----------------------------------------------------------------


def test_dashboard_keys_stay_write_keys_with_their_hash_label(issue, settings):
    issue("shop-web", "evaluate")
    settings.DASHBOARD_KEY = f"{OTHER_KEY},{TEST_KEY}"
    for key in (TEST_KEY, OTHER_KEY):
        body = {"key": f"k.{key[:4]}", "value": 1, "create": True, "type": "integer"}
        assert call(key, "/api/flags/set", "post", **body).status_code in (200, 201)
    label = {"api:k_" + hashlib.sha256(k.encode()).hexdigest()[:8] for k in (TEST_KEY, OTHER_KEY)}
    assert set(FlagChange.objects.values_list("actor", flat=True)) == label
    for header in ("HTTP_X_DASH_KEY", "HTTP_X_API_KEY"):
        assert call(TEST_KEY, "/api/flags/history", header=header).status_code == 200
    assert call(f"Bearer {TEST_KEY}", header="HTTP_AUTHORIZATION").status_code == 200


def test_no_dashboard_key_and_no_active_stored_key_is_503(issue, settings, clocks):
    settings.DASHBOARD_KEY = ""
    assert error(call(None))[:2] == (503, "not_configured")
    secret = issue("only", "read", expires="1h")
    assert call(secret).status_code == 200
    assert error(call(None))[:2] == (401, "unauthorized")
    assert error(call("ep_" + "0" * 64))[:2] == (401, "unauthorized")
    clocks.advance(3602)  # the one key expired: nothing opens the API any more
    assert error(call(secret))[:2] == (503, "not_configured")
    assert error(call(None))[:2] == (503, "not_configured")


def test_revoking_the_last_stored_key_closes_the_api_again(issue, settings):
    settings.DASHBOARD_KEY = ""
    secret = issue("only", "read")
    assert call(secret).status_code == 200
    access.apikey_revoke(name="only", actor="cli")
    assert error(call(secret))[:2] == (503, "not_configured")


# --- revocation, expiry, rotation ---------------------------------------------------


def test_a_revoked_key_is_refused_at_once_in_this_process(issue):
    secret = issue("shop-web")
    assert call(secret).status_code == 200
    access.apikey_revoke(name="shop-web", actor="cli")
    assert error(call(secret)) == (401, "unauthorized", "key revoked")
    assert "WWW-Authenticate" in call(secret)


def test_a_key_expires_at_its_time(issue, clocks):
    secret = issue("temp", expires="12h")
    clocks.advance(12 * 3600 - 1)
    assert call(secret).status_code == 200
    clocks.advance(2)  # the clocks started a moment before the key was created
    assert error(call(secret)) == (401, "unauthorized", "key expired")


def test_rotation_keeps_the_old_secret_for_the_grace_period(issue, clocks):
    old = issue("shop-web")
    new = access.apikey_rotate(name="shop-web", actor="cli", grace="1h").secret
    assert new != old and new.startswith("ep_")
    assert call(new).status_code == 200
    assert call(old).status_code == 200
    clocks.advance(3599)
    assert call(old).status_code == 200
    clocks.advance(2)
    assert error(call(old)) == (401, "unauthorized", "key expired")
    assert call(new).status_code == 200


def test_rotation_with_no_grace_refuses_the_old_secret_at_once(issue):
    old = issue("shop-web")
    new = access.apikey_rotate(name="shop-web", actor="cli", grace="0").secret
    assert error(call(old)) == (401, "unauthorized", "key expired")
    assert call(new).status_code == 200


def test_a_second_rotation_drops_the_first_secret(issue):
    first = issue("shop-web")
    second = access.apikey_rotate(name="shop-web", actor="cli").secret
    third = access.apikey_rotate(name="shop-web", actor="cli").secret
    assert error(call(first)) == (401, "unauthorized", "Invalid dashboard key.")
    assert call(second).status_code == 200 and call(third).status_code == 200


def test_revoking_during_the_grace_period_refuses_both_secrets(issue):
    old = issue("shop-web")
    new = access.apikey_rotate(name="shop-web", actor="cli").secret
    access.apikey_revoke(name="shop-web", actor="cli")
    assert error(call(old))[2] == error(call(new))[2] == "key revoked"


def test_the_grace_period_never_outlives_the_key(issue, clocks):
    old = issue("shop-web", expires="2h")
    access.apikey_rotate(name="shop-web", actor="cli", grace="24h")
    clocks.advance(2 * 3600 + 1)
    assert error(call(old))[2] == "key expired"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s + " ",
        lambda s: " " + s,
        lambda s: s + "\t",
        lambda s: s.upper(),
        lambda s: s[:-1],
        lambda s: s[:9],
        lambda s: s + "0",
        lambda s: s.replace("ep_", "EP_"),
    ],
    ids=["trailing-space", "leading-space", "tab", "upper", "truncated", "prefix", "extra", "EP"],
)
def test_a_mangled_secret_is_refused(issue, mangle):
    secret = issue("shop-web")
    assert error(call(mangle(secret))) == (401, "unauthorized", "Invalid dashboard key.")


def test_bearer_with_extra_whitespace_is_refused(issue):
    secret = issue("shop-web")
    assert call(f"Bearer {secret}", header="HTTP_AUTHORIZATION").status_code == 200
    assert call(f"Bearer  {secret}", header="HTTP_AUTHORIZATION").status_code == 401
    assert call(f"Bearer {secret} ", header="HTTP_AUTHORIZATION").status_code == 401


# --- the hot path ---------------------------------------------------------------------


def test_checking_a_stored_key_runs_no_query_between_reloads(
    issue, clocks, django_assert_num_queries
):
    secret = issue("shop-web")
    call(secret)  # loads the keys and records the first use
    with django_assert_num_queries(0):
        for _ in range(20):
            assert call(secret).status_code == 200
        clocks.advance(registry.RELOAD_SECONDS - 0.01)
        assert call(secret).status_code == 200
    clocks.advance(0.01)
    with django_assert_num_queries(1):  # the periodic reload, one SELECT
        assert call(secret).status_code == 200


def test_a_revocation_elsewhere_is_seen_at_the_next_reload(issue, clocks):
    secret = issue("shop-web")
    assert call(secret).status_code == 200
    # Another process revoked it: the row changed, nothing told this process.
    ApiKey.objects.filter(name="shop-web").update(revoked_at=timezone.now())
    clocks.advance(registry.RELOAD_SECONDS / 2)
    assert call(secret).status_code == 200
    clocks.advance(registry.RELOAD_SECONDS / 2)
    assert error(call(secret))[2] == "key revoked"


def test_last_used_is_written_at_most_once_a_minute(issue, clocks, django_assert_num_queries):
    secret = issue("shop-web")
    assert ApiKey.objects.get().last_used_at is None
    call(secret)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    ApiKey.objects.update(last_used_at=None)
    for _ in range(29):
        clocks.advance(2)
        call(secret)
    assert ApiKey.objects.get().last_used_at is None  # 58 s: not written again
    clocks.advance(2)
    call(secret)
    assert ApiKey.objects.get().last_used_at is not None


@pytest.fixture
def redis_stamp(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"access-test-{uuid.uuid4().hex}",
        },
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    yield caches["default"]
    caches["default"].delete(registry.STAMP_KEY)


def test_with_redis_a_published_change_is_seen_at_the_next_stamp_check(
    issue, clocks, redis_stamp, django_assert_num_queries
):
    secret = issue("shop-web")
    assert call(secret).status_code == 200
    with django_assert_num_queries(0):  # stamp checks are cache reads
        for _ in range(3):
            clocks.advance(registry.STAMP_CHECK_SECONDS)
            assert call(secret).status_code == 200
    ApiKey.objects.filter(name="shop-web").update(revoked_at=timezone.now())
    clocks.advance(registry.STAMP_CHECK_SECONDS)
    assert call(secret).status_code == 200  # the stamp has not changed
    registry.publish_stamp()  # what the revoking process does after commit
    clocks.advance(registry.STAMP_CHECK_SECONDS)
    assert error(call(secret))[2] == "key revoked"


def test_with_redis_a_lost_stamp_is_covered_by_the_periodic_reload(issue, clocks, redis_stamp):
    secret = issue("shop-web")
    assert call(secret).status_code == 200
    ApiKey.objects.filter(name="shop-web").update(revoked_at=timezone.now())
    clocks.advance(registry.RELOAD_SECONDS_WITH_STAMP)
    assert error(call(secret))[2] == "key revoked"
    assert registry.RELOAD_SECONDS_WITH_STAMP < 5


def test_with_the_database_down_the_last_copy_serves_for_a_while_then_503(
    issue, clocks, monkeypatch
):
    secret = issue("shop-web")
    assert call(secret).status_code == 200
    attempts = []

    def down(stamp):
        from django.db import OperationalError

        attempts.append(stamp)
        raise OperationalError("database is down")

    monkeypatch.setattr(registry, "build", down)
    clocks.advance(registry.RELOAD_SECONDS)
    for _ in range(10):  # one failed reload, not one per request
        assert call(secret).status_code == 200
    assert len(attempts) == 1
    clocks.advance(registry.RETRY_SECONDS)
    assert call(secret).status_code == 200 and len(attempts) == 2
    clocks.advance(registry.STALE_LIMIT)
    assert error(call(secret))[:2] == (503, "unavailable")
    assert call(TEST_KEY).status_code == 200  # DASHBOARD_KEY needs no database


# --- throttling -------------------------------------------------------------------------


def test_the_throttle_counts_per_key(issue, settings):
    noisy, quiet = issue("noisy"), issue("quiet")
    settings.API_THROTTLE_RATE = "2/min"
    assert [call(noisy).status_code for _ in range(3)] == [200, 200, 429]
    assert call(quiet).status_code == 200
    assert call(TEST_KEY).status_code == 200


def test_a_keys_own_rate_overrides_the_setting(issue, settings):
    strict = issue("strict", rate="1/min")
    loose = issue("loose", rate="100/min")
    assert [call(strict).status_code for _ in range(2)] == [200, 429]
    settings.API_THROTTLE_RATE = "1/min"
    assert [call(loose).status_code for _ in range(3)] == [200, 200, 200]
    assert int(call(strict)["Retry-After"]) >= 1


# --- the OpenAPI schema -------------------------------------------------------------------


def test_the_schema_declares_the_three_headers_and_each_operations_scope(api):
    schema = api.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["DashKey"] == {**schemes["DashKey"], "in": "header", "name": "X-Dash-Key"}
    assert schemes["ApiKey"]["name"] == "X-API-Key"
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert "| `evaluate` |" in schema["info"]["description"]
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if path == "/api/health":
                assert not any(op.get("security") or [])
                continue
            assert {"DashKey": []} in op["security"] and {"Bearer": []} in op["security"]
            assert op["x-required-scope"] in access.SCOPES, (path, method)
            assert "Scope: `" in op["description"], (path, method)
    flags_set = schema["paths"]["/api/flags/set"]["post"]
    assert "Scope: `write` (keys with `write`)." in flags_set["description"]
    report = schema["paths"]["/api/costs/report"]["get"]["description"]
    assert "Scope: `read`; `write` with `save=true`" in report
    ping = schema["paths"]["/api/ping"]["get"]["description"]
    assert "(keys with `evaluate`, `read` or `write`)" in ping
