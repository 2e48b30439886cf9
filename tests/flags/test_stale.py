"""Stale flags: unused for `unused_days`, or one value to everyone for `static_days`."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from flags import services
from flags.models import Flag, FlagChange, FlagUsage

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def backdate(key, days):
    """Make flag `key` (and its history) `days` old."""
    then = timezone.now() - days * DAY
    Flag.objects.filter(key=key).update(created_at=then)
    FlagChange.objects.filter(key=key).update(ts=then)


def counted(key, variant, days_ago, n=10, reason="X"):
    hour = (timezone.now() - days_ago * DAY).replace(minute=0, second=0, microsecond=0)
    FlagUsage.objects.create(
        key=key, variant=variant, reason=reason, hour=hour, count=n, last_at=hour
    )


@pytest.fixture
def fleet():
    rules = [
        {
            "name": "de",
            "conditions": [{"attribute": "country", "op": "eq", "value": "DE"}],
            "value": True,
        }
    ]
    for key in ("f.unused", "f.never", "f.static", "f.mixed", "f.new", "f.recently_changed"):
        services.flag_set(key=key, actor="cli", create=True, value=False, rules=rules)
        backdate(key, 60)
    backdate("f.new", 0)
    counted("f.unused", "de", 45)
    for days in (30, 20, 1):
        counted("f.static", "de", days)
        counted("f.mixed", "default", days)
        counted("f.recently_changed", "default", days)
    counted("f.mixed", "de", 2)
    services.flag_set(key="f.recently_changed", actor="cli", description="touched")


def test_stale_lists_unused_and_static_flags(api, fleet):
    body = api.get("/api/flags/stale?unused_days=30&static_days=14").json()
    assert body["ok"] is True
    found = {f["key"]: f for f in body["flags"]}
    assert set(found) == {"f.unused", "f.never", "f.static"}
    assert found["f.unused"]["reason"] == "unused" and found["f.unused"]["last_evaluated"]
    assert found["f.never"]["reason"] == "unused" and found["f.never"]["last_evaluated"] is None
    static = found["f.static"]
    assert (static["reason"], static["value"]) == ("static", True)  # the "de" rule's value
    assert list(static) == ["key", "reason", "last_evaluated", "value", "since", "last_change"]
    # A longer static window leaves f.static out; f.unused, evaluated 45 days ago and
    # not within 50, is not unused then, but it served its one value since its last change.
    longer = api.get("/api/flags/stale?unused_days=50&static_days=40").json()["flags"]
    assert {(f["key"], f["reason"]) for f in longer} == {
        ("f.never", "unused"),
        ("f.unused", "static"),
    }


def test_static_is_judged_by_value_not_variant(api):
    """Variants that serve the default's value are that one value; others are not."""
    same = {"percentage": 50, "value": False, "name": "treatment"}
    other = {"percentage": 50, "value": True, "name": "treatment"}
    rule = {
        "name": "staff",
        "conditions": [{"attribute": "staff", "op": "eq", "value": True}],
        "value": False,
    }
    made = {
        "v.same_rollout": {"rollout": same},
        "v.same_rule_and_rollout": {"rollout": same, "rules": [rule]},
        "v.other_rollout": {"rollout": other},
        "v.errors": {"rollout": same},
    }
    for key, targeting in made.items():
        services.flag_set(key=key, actor="cli", create=True, value=False, **targeting)
        backdate(key, 60)
        for days in (30, 20, 1):
            counted(key, "default", days, reason="SPLIT")
            counted(key, "treatment", days, reason="SPLIT")
    for days in (30, 1):
        counted("v.same_rule_and_rollout", "staff", days, reason="TARGETING_MATCH")
    # A failed evaluation served the caller's own default, not the flag's value.
    counted("v.errors", "default", 3, reason="ERROR")

    found = {
        f["key"]: f
        for f in api.get("/api/flags/stale?unused_days=30&static_days=14").json()["flags"]
    }
    assert set(found) == {"v.same_rollout", "v.same_rule_and_rollout"}
    for key in found:
        assert (found[key]["reason"], found[key]["value"]) == ("static", False), key
        # Since the last change (60 days ago): the first counts were 30 days ago.
        since = dt.datetime.fromisoformat(found[key]["since"])
        assert abs(since - (timezone.now() - 30 * DAY)) < 2 * dt.timedelta(hours=1), key
    # After a change to a value of its own, the rollout is another value again.
    services.flag_set(key="v.same_rollout", actor="cli", rollout=other)
    backdate("v.same_rollout", 20)
    counted("v.same_rollout", "treatment", 2, reason="SPLIT")
    again = api.get("/api/flags/stale?unused_days=30&static_days=14").json()["flags"]
    assert {f["key"] for f in again} == {"v.same_rule_and_rollout"}


@pytest.mark.parametrize("query", ["unused_days=0", "static_days=366", "unused_days=x", "nope=1"])
def test_bad_stale_queries_are_refused(api, query):
    assert api.get(f"/api/flags/stale?{query}").status_code == 400


def test_stale_command(fleet):
    out = StringIO()
    call_command("flags", "stale", "--json", stdout=out)
    keys = [json.loads(line)["key"] for line in out.getvalue().splitlines()]
    assert keys == ["f.never", "f.static", "f.unused"]
