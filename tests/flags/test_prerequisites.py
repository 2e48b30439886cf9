"""Prerequisites: evaluation, the API's refusals, archiving a required flag, OFREP and the SDK."""

import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

import flags
from flags import services
from flags.models import Flag, FlagChange
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.django_db

NEEDS_PAYMENTS = [{"flag": "payments.live", "value": True}]


def make_checkout():
    services.flag_set(key="payments.live", actor="cli", create=True, value=True)
    services.flag_set(
        key="checkout.v2",
        actor="cli",
        create=True,
        value=False,
        rules=[
            {
                "name": "de",
                "conditions": [{"attribute": "country", "op": "eq", "value": "DE"}],
                "value": True,
            }
        ],
        prerequisites=NEEDS_PAYMENTS,
    )


def test_a_failed_prerequisite_serves_the_default():
    make_checkout()
    assert tuple(flags.evaluate("checkout.v2", {"country": "DE"})) == (
        True,
        "de",
        "TARGETING_MATCH",
    )
    services.flag_set(key="payments.live", actor="cli", value=False)
    result = flags.evaluate("checkout.v2", {"country": "DE"})
    assert tuple(result) == (False, "default", "PREREQUISITE_FAILED")
    assert result.prerequisite == "payments.live"
    # The kill switch still wins over a prerequisite.
    services.flag_set(key="checkout.v2", actor="cli", enabled=False)
    assert flags.evaluate("checkout.v2", {"country": "DE"}).reason == "DISABLED"


def test_prerequisites_are_set_listed_and_recorded(api):
    make_checkout()
    services.flag_set(key="ui.a", actor="cli", create=True, value=True)
    response = api.post(
        "/api/flags/set",
        {"key": "checkout.v2", "prerequisites": [{"flag": "ui.a", "value": True}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == ["prerequisites"]
    row = FlagChange.objects.filter(key="checkout.v2").first()
    assert (row.field, row.old, row.new) == (
        "prerequisites",
        NEEDS_PAYMENTS,
        [{"flag": "ui.a", "value": True}],
    )
    listed = {f["key"]: f for f in api.get("/api/flags/list").json()["flags"]}
    assert listed["checkout.v2"]["prerequisites"] == [{"flag": "ui.a", "value": True}]


def chain(n):
    """f0 <- f1 <- ... : f{i} requires f{i-1}; return the keys."""
    keys = [f"chain.f{i}" for i in range(n)]
    for i, key in enumerate(keys):
        prereqs = [{"flag": keys[i - 1], "value": True}] if i else []
        services.flag_set(key=key, actor="cli", create=True, value=True, prerequisites=prereqs)
    return keys


@pytest.mark.parametrize(
    ("prerequisites", "needle"),
    [
        ([{"flag": "checkout.v2", "value": True}], "itself"),
        ([{"flag": "no.such.flag", "value": True}], "no live flag"),
        ([{"flag": "payments.live", "value": "yes"}], "expected a boolean"),
        ([{"flag": "payments.live"}], "'value'"),
        ([{"flag": "payments.live", "value": True, "x": 1}], "unknown field"),
        ("payments.live", "list"),
    ],
)
def test_bad_prerequisites_are_refused_and_nothing_changes(api, prerequisites, needle):
    make_checkout()
    before = FlagChange.objects.count()
    response = api.post(
        "/api/flags/set", {"key": "checkout.v2", "prerequisites": prerequisites}, format="json"
    )
    assert response.status_code == 400, response.content
    assert needle in response.json()["detail"]
    assert FlagChange.objects.count() == before


def test_cycles_and_chains_deeper_than_five_are_refused(api):
    keys = chain(6)  # f5 -> f4 -> ... -> f0: depth 5, allowed
    assert tuple(flags.evaluate(keys[-1])) == (True, "default", "DEFAULT")
    cycle = api.post(
        "/api/flags/set",
        {"key": keys[0], "prerequisites": [{"flag": keys[3], "value": True}]},
        format="json",
    )
    assert cycle.status_code == 400 and "cycle" in cycle.json()["detail"]
    services.flag_set(key="chain.top", actor="cli", create=True, value=True)
    deep = api.post(
        "/api/flags/set",
        {"key": "chain.top", "prerequisites": [{"flag": keys[-1], "value": True}]},
        format="json",
    )
    assert deep.status_code == 400 and "deeper than 5" in deep.json()["detail"]
    assert Flag.objects.get(key="chain.top").prerequisites == []


def test_archiving_a_required_flag_is_refused_with_409_naming_them(api):
    make_checkout()
    response = api.post("/api/flags/set", {"key": "payments.live", "archived": True}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "flag_required" and "checkout.v2" in body["detail"]
    assert Flag.objects.get(key="payments.live").archived is False
    # Once nothing needs it, it can go.
    services.flag_set(key="checkout.v2", actor="cli", prerequisites=[])
    assert (
        api.post(
            "/api/flags/set", {"key": "payments.live", "archived": True}, format="json"
        ).status_code
        == 200
    )


def test_ofrep_reports_default_with_the_failed_prerequisite_in_metadata(api):
    make_checkout()
    services.flag_set(key="payments.live", actor="cli", value=False)
    body = api.post(
        "/ofrep/v1/evaluate/flags/checkout.v2", {"context": {"country": "DE"}}, format="json"
    ).json()
    assert body == {
        "key": "checkout.v2",
        "value": False,
        "reason": "DEFAULT",
        "variant": "default",
        "metadata": {"type": "boolean", "prerequisiteFailed": "payments.live"},
    }


@pytest.mark.external
def test_the_openfeature_sdk_sees_prerequisites_over_ofrep(gunicorn_server):
    make_checkout()
    base = gunicorn_server()
    openfeature.set_provider(OFREPProvider(base, headers_factory=lambda: {"X-API-Key": TEST_KEY}))
    try:
        client = openfeature.get_client()
        ctx = EvaluationContext("user-1", {"country": "DE"})
        on = client.get_boolean_details("checkout.v2", False, ctx)
        assert (on.value, on.reason, on.variant) == (True, "TARGETING_MATCH", "de")
        services.flag_set(key="payments.live", actor="cli", value=False)
        # The server serves the change within its 1-second staleness bound.
        import time

        deadline = time.monotonic() + 5
        while True:
            off = client.get_boolean_details("checkout.v2", True, ctx)
            if off.value is False or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (off.value, off.reason, off.variant) == (False, "DEFAULT", "default")
        assert off.flag_metadata == {"type": "boolean", "prerequisiteFailed": "payments.live"}
        assert off.error_code is None
    finally:
        openfeature.clear_providers()
