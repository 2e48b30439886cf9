"""Metrics and guardrails, the time series and the plan endpoint, through the database
and the API, against statsmodels and the issue's formulas to 1e-9."""

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from experiments import selectors, services, timeseries
from experiments import stats as ours
from experiments.assignment import assign_variant
from tests.experiments.test_sequential import ref_seq_ci

TOL = 1e-9
METRICS = {
    "primary": "conversion",
    "secondary": ["purchase"],
    "guardrails": [{"event": "refund", "direction": "decrease"}],
}


@pytest.fixture
def shop(make_exp):
    return services.experiment_create(
        key="shop", variants=["A", "B"], salt="SHOP", metrics=METRICS, planned_users=800, actor="t"
    )


def _log(events):
    for start in range(0, len(events), 1000):
        services.log_events(events=events[start : start + 1000], actor="t")


def test_metrics_all_matches_statsmodels_and_flags_the_guardrail(shop, api):
    rng = random.Random(9)
    users = [f"u{i}" for i in range(600)]
    events = []
    for u in users:
        variant = assign_variant(u, "SHOP", ["A", "B"])
        if rng.random() < (0.2 if variant == "A" else 0.3):
            events.append({"event": "conversion", "user": u, "exp": "shop"})
        for _ in range(rng.choice([0, 0, 1, 2])):
            events.append(
                {
                    "event": "purchase",
                    "user": u,
                    "exp": "shop",
                    "value": rng.choice([5.0, 12.5, 99.99]),
                }
            )
        if rng.random() < (0.02 if variant == "A" else 0.4):  # B refunds far more
            events.append({"event": "refund", "user": u, "exp": "shop"})
    for u in users:  # everyone exposed, converting or not
        services.assign(experiment="shop", user=u, actor="t")
    _log(events)
    r = api.get("/api/exp/results", {"exp": "shop", "metrics": "all"})
    assert r.status_code == 200
    data = r.json()
    assert set(data["metrics"]) == {"conversion", "purchase", "refund"}
    assert data["guardrail_failed"] == ["refund"] and data["primary"] == "conversion"
    # Value metric: per-user totals, zeros for users without a purchase.
    totals = {v: {} for v in "AB"}
    for u in users:
        totals[assign_variant(u, "SHOP", ["A", "B"])][u] = 0.0
    for e in events:
        if e["event"] == "purchase":
            totals[assign_variant(e["user"], "SHOP", ["A", "B"])][e["user"]] += e["value"]
    a, b = (np.array(list(totals[v].values())) for v in "AB")
    va, vb = data["metrics"]["purchase"]["variants"]
    assert abs(va["mean_value"] - a.mean()) < TOL and abs(vb["mean_value"] - b.mean()) < TOL
    lo, hi = CompareMeans(DescrStatsW(b), DescrStatsW(a)).zconfint_diff(usevar="unequal")
    assert abs(vb["value_uplift"] - (b.mean() - a.mean())) < TOL
    assert abs(vb["value_uplift_ci"][0] - lo) < TOL and abs(vb["value_uplift_ci"][1] - hi) < TOL
    lo, hi = DescrStatsW(a).zconfint_mean()
    assert abs(va["mean_value_ci"][0] - lo) < TOL and abs(va["mean_value_ci"][1] - hi) < TOL
    # The sequential interval of the refund rate, by the formula.
    ra, rb = data["metrics"]["refund"]["variants"]
    want = ref_seq_ci(rb["converters"], rb["users"], ra["converters"], ra["users"], 800, 1, 1, 2, 2)
    assert abs(rb["uplift_abs_seq_ci"][0] - want[0]) < TOL
    assert abs(rb["uplift_abs_seq_ci"][1] - want[1]) < TOL
    assert rb["significant_seq"] is True and rb["uplift_abs_seq_ci"][0] > 0
    assert data["progress"] == 600 / 800 and data["eta_days"] == pytest.approx(200 / (600 / 7))
    line = selectors.verdict(selectors.results_all(experiment="shop"))
    assert line["level"] == "error" and "Guardrail failed: refund" in line["text"]


def test_results_parameters_are_strict(shop, api):
    assert api.get("/api/exp/results", {"exp": "shop", "metrics": "some"}).status_code == 400
    r = api.get("/api/exp/results", {"exp": "shop", "metrics": "all", "event": "x"})
    assert r.status_code == 400 and r.json()["detail"].startswith("event:")
    assert api.get("/api/exp/results", {"exp": "shop"}).json()["event"] == "conversion"


def test_timeseries_is_cumulative_per_utc_day(shop, api, monkeypatch):
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    rng = random.Random(4)
    expected = []
    seen = {"A": set(), "B": set()}
    conv = {"A": set(), "B": set()}
    for day in range(5):
        now = start + timedelta(days=day)
        monkeypatch.setattr(timezone, "now", lambda now=now: now)
        for i in range(40):
            u = f"d{day}u{i}"
            services.assign(experiment="shop", user=u, actor="t")
            seen[assign_variant(u, "SHOP", ["A", "B"])].add(u)
        batch = [
            {"event": "conversion", "user": u, "exp": "shop"}
            for v in "AB"
            for u in sorted(seen[v])
            if rng.random() < 0.15
        ]
        if batch:
            _log(batch)
            for e in batch:
                conv[assign_variant(e["user"], "SHOP", ["A", "B"])].add(e["user"])
        expected.append({v: (len(seen[v]), len(conv[v])) for v in "AB"})
    r = api.get("/api/exp/timeseries", {"exp": "shop", "days": "7"})
    assert r.status_code == 200
    days = r.json()["days"]
    # The window ends today (2026-11-24 here) and starts at the first exposure.
    assert [d["date"] for d in days] == [f"2026-11-{20 + i}" for i in range(5)]
    for point, want in zip(days, expected, strict=True):
        (n0, x0), (n1, x1) = want["A"], want["B"]
        a, b = point["variants"]
        assert (a["users"], a["converters"], b["users"], b["converters"]) == (n0, x0, n1, x1)
        assert abs(a["rate"] - x0 / n0) < TOL and abs(b["rate"] - x1 / n1) < TOL
        assert abs(b["uplift_abs"] - (x1 / n1 - x0 / n0)) < TOL
        lo, hi = ref_seq_ci(x1, n1, x0, n0, 800, 1, 1, 2, 2)
        assert (
            abs(b["uplift_abs_seq_ci"][0] - lo) < TOL and abs(b["uplift_abs_seq_ci"][1] - hi) < TOL
        )
        fixed = ours.diff_ci(x1, n1, x0, n0)
        assert b["uplift_abs_ci"] == fixed
    assert len(api.get("/api/exp/timeseries", {"exp": "shop", "days": "2"}).json()["days"]) == 2
    for bad in ("0", "367", "x", "1.5", " 3"):
        r = api.get("/api/exp/timeseries", {"exp": "shop", "days": bad})
        assert r.status_code == 400 and r.json()["detail"].startswith("days:")
    assert api.get("/api/exp/timeseries", {"exp": "nope"}).status_code == 404


def test_plan_endpoint(api):
    r = api.get(
        "/api/exp/plan",
        {"baseline": "0.10", "mde": "0.02", "alpha": "0.05", "power": "0.8", "variants": "2"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["users_per_variant"] == 3841
    assert body["total_users"] == 2 * 3841
    rel = api.get("/api/exp/plan", {"baseline": "0.10", "mde_rel": "0.2"}).json()
    assert rel["users_per_variant"] == 3841
    for params, field in [
        ({"baseline": "1.2", "mde": "0.02"}, "baseline"),
        ({"baseline": "0.1", "mde": "0"}, "mde"),
        ({"baseline": "0.1", "mde": "0.02", "power": "0"}, "power"),
        ({"baseline": "0.1", "mde": "0.02", "variants": "1"}, "variants"),
        ({"baseline": "0.1", "mde": "0.02", "x": "1"}, "x"),
    ]:
        r = api.get("/api/exp/plan", params)
        assert r.status_code == 400 and r.json()["detail"].startswith(f"{field}:"), r.json()


def test_plan_command_prints_the_api_document(capsys):
    from django.core.management import call_command

    call_command("experiments", "plan", "--baseline", "0.1", "--mde", "0.02")
    assert json.loads(capsys.readouterr().out)["users_per_variant"] == 3841


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"metrics": {"primary": "conversion", "tertiary": []}}, "unknown field(s) tertiary"),
        ({"metrics": {"guardrails": [{"event": "refund", "direction": "down"}]}}, "direction"),
        ({"metrics": {"guardrails": [{"event": "refund"}]}}, "a guardrail is"),
        ({"metrics": {"secondary": ["bad name"]}}, "not an event name"),
        ({"metrics": {"secondary": ["conversion"]}}, "named twice"),
        ({"planned_users": 0}, "planned_users"),
        ({"planned_users": True}, "planned_users"),
        ({"analysis": "bayes"}, "analysis"),
    ],
)
def test_config_refuses_bad_metrics_and_settings(config_dir, db, extra, message):
    path = config_dir / "experiments.json"
    path.write_text(json.dumps({"e1": {"variants": ["A", "B"], **extra}}))
    with pytest.raises(services.ConfigError) as e:
        services.read_config(path)
    assert message in str(e.value)


def test_config_loads_analysis_planned_users_and_metrics(config_dir, db):
    path = config_dir / "experiments.json"
    path.write_text(
        json.dumps(
            {
                "e1": {
                    "variants": ["A", "B"],
                    "analysis": "fixed",
                    "planned_users": 20000,
                    "metrics": METRICS,
                }
            }
        )
    )
    services.load_config()
    exp = selectors.get_experiment("e1")
    assert (exp.analysis, exp.planned_users, exp.metrics) == ("fixed", 20000, METRICS)
    services.log_event(event="conversion", user="u1", experiment="e1", actor="t")
    # Not assignment fields: they can change after exposures.
    services.experiment_update(key="e1", analysis="sequential", planned_users=10, actor="t")
    assert selectors.get_experiment("e1").planned_users == 10


def test_more_converters_than_users_is_capped_not_a_500(make_exp):
    """Raw rows loaded behind the services' back can count events of unexposed users."""
    from experiments.models import Event

    exp = make_exp(key="odd", variants=["A", "B"])
    services.assign(experiment="odd", user="u1", actor="t")
    Event.objects.bulk_create(
        Event(
            experiment=exp,
            user=f"ghost{i}",
            variant=v,
            event="conversion",
            created_at=exp.created_at,
        )
        for i in range(3)
        for v in "AB"
    )
    services.recount(key="odd")
    data = selectors.results(experiment="odd")
    assert all(v["converters"] <= v["users"] for v in data["variants"])
    series = timeseries.timeseries(experiment="odd")
    assert all(v["converters"] <= v["users"] for d in series["days"] for v in d["variants"])
