"""The evaluation cost budget: big context lists and strings are refused; `contains` uses a set."""

import time

import pytest

import flags
from flags import services
from flags.limits import CONTEXT_LIST_MAX, CONTEXT_STRING_MAX, MAX_CONDITIONS, MAX_RULES

pytestmark = pytest.mark.django_db


@pytest.fixture
def expensive():
    """100 rules x 50 `contains` conditions on one attribute: the reported 18-second flag."""
    rules = [
        {
            "name": f"r{i}",
            "conditions": [
                {"attribute": "groups", "op": "contains", "value": f"g-{i}-{j}"}
                for j in range(MAX_CONDITIONS)
            ],
            "value": True,
        }
        for i in range(MAX_RULES)
    ]
    services.flag_set(key="costly", actor="cli", create=True, value=False, rules=rules)
    return "costly"


def test_the_expensive_evaluation_is_refused_with_400(api, expensive):
    groups = [f"g-{i}" for i in range(10_000)]
    response = api.post(
        "/api/flags/evaluate", {"key": expensive, "context": {"groups": groups}}, format="json"
    )
    assert response.status_code == 400
    assert (
        response.json()["error"] == "invalid" and str(CONTEXT_LIST_MAX) in response.json()["detail"]
    )
    ofrep = api.post(
        f"/ofrep/v1/evaluate/flags/{expensive}", {"context": {"groups": groups}}, format="json"
    )
    assert ofrep.status_code == 400 and ofrep.json()["errorCode"] == "INVALID_CONTEXT"
    bulk = api.post("/ofrep/v1/evaluate/flags", {"context": {"groups": groups}}, format="json")
    assert bulk.status_code == 400 and bulk.json()["errorCode"] == "INVALID_CONTEXT"


def test_within_the_budget_it_is_cheap_and_right(api, expensive):
    groups = [f"g-{i}" for i in range(CONTEXT_LIST_MAX - 1)] + ["g-99-49"]
    body = {"key": expensive, "context": {"groups": groups}}
    started = time.perf_counter()
    response = api.post("/api/flags/evaluate", body, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json()["value"] is False  # no rule has all 50 groups
    every = [f"g-7-{j}" for j in range(MAX_CONDITIONS)]
    result = flags.evaluate(expensive, {"groups": every})
    assert (result.value, result.variant) == (True, "r7")
    print(f"1,000-item list against 5,000 contains conditions: {elapsed * 1000:.0f} ms")


def test_contains_keeps_json_types_apart_in_sets():
    rule = {"attribute": "xs", "op": "contains", "value": 1}
    services.flag_set(
        key="num",
        actor="cli",
        create=True,
        value=False,
        rules=[{"name": "one", "conditions": [rule], "value": True}],
    )
    assert flags.evaluate("num", {"xs": [True, "1"]}).value is False
    assert flags.evaluate("num", {"xs": [1.0]}).value is True


@pytest.mark.parametrize(
    "context",
    [
        {"s": "x" * (CONTEXT_STRING_MAX + 1)},
        {"s": "é" * (CONTEXT_STRING_MAX // 2 + 1)},  # bytes, not characters
        {"nested": {"deeper": [0] * (CONTEXT_LIST_MAX + 1)}},
    ],
)
def test_long_strings_and_lists_anywhere_are_refused(api, context):
    services.flag_set(key="f", actor="cli", create=True, value=True)
    response = api.post("/api/flags/evaluate", {"key": "f", "context": context}, format="json")
    assert response.status_code == 400


def test_the_budget_limits_themselves_are_allowed(api):
    services.flag_set(key="f", actor="cli", create=True, value=True)
    context = {"s": "x" * CONTEXT_STRING_MAX, "l": list(range(CONTEXT_LIST_MAX))}
    assert (
        api.post("/api/flags/evaluate", {"key": "f", "context": context}, format="json").status_code
        == 200
    )
