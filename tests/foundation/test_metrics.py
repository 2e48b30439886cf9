"""GET /metrics and the figures behind it (this process's registry; the
multiprocess sums are in test_metrics_processes.py)."""

import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from echopilot import access, metrics, mirror, schedules
from echopilot.models import OutboxEntry
from tests.conftest import TEST_KEY, read_ndjson

committing = pytest.mark.django_db(transaction=True)


def scrape(**headers) -> dict[tuple[str, tuple], float]:
    """GET /metrics; return {(sample name, sorted labels): value}."""
    response = APIClient().get(
        "/metrics", **(headers or {"HTTP_AUTHORIZATION": f"Bearer {TEST_KEY}"})
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-store" in response["Cache-Control"]  # a keyed answer (issue 19)
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(name: str, **labels) -> float:
    return metrics.sample(name, **labels)


@pytest.mark.django_db
def test_prometheus_scrapes_with_a_bearer_metrics_key_and_nothing_else_opens_it(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        scraper = access.apikey_create(name="prom", scopes=["metrics"], actor="cli").secret
        app = access.apikey_create(name="app", scopes=["evaluate"], actor="cli").secret
    assert scrape(HTTP_AUTHORIZATION=f"Bearer {scraper}")
    assert scrape(HTTP_X_DASH_KEY=TEST_KEY)  # a DASHBOARD_KEY key has every scope
    anon = APIClient().get("/metrics")
    assert anon.status_code == 401 and anon.json()["error"] == "unauthorized"
    refused = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {app}")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    # Prometheus asks for OpenMetrics first; the text format is what it gets.
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    both = APIClient().get("/metrics", HTTP_ACCEPT=accept, HTTP_X_DASH_KEY=TEST_KEY)
    assert both.status_code == 200 and both["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_requests_are_counted_by_route_name_without_a_query(api, django_assert_num_queries):
    labels = {"view": "ping", "method": "GET", "status": "200"}
    before = value("echopilot_http_requests_total", **labels)
    hist = value("echopilot_http_request_duration_seconds_count", view="ping")
    with django_assert_num_queries(0):
        assert api.get("/api/ping").status_code == 200
    assert value("echopilot_http_requests_total", **labels) == before + 1
    assert value("echopilot_http_request_duration_seconds_count", view="ping") == hist + 1


@pytest.mark.django_db
def test_unknown_paths_and_methods_are_other_never_the_raw_path(api):
    before = value("echopilot_http_requests_total", view="other", method="GET", status="404")
    api.get("/api/no-such-thing-4711")
    api.get("/nowhere-4711")
    after = value("echopilot_http_requests_total", view="other", method="GET", status="404")
    assert after == before + 2
    api.generic("BREW", "/api/ping")
    assert value("echopilot_http_requests_total", view="ping", method="other", status="405") >= 1
    lines = metrics.exposition().decode().splitlines()
    # The series names and labels only: a sample's value (a timestamp) may hold any digits.
    http = [line.rsplit(" ", 1)[0] for line in lines if "_http_" in line]
    assert not [series for series in http if "4711" in series or "BREW" in series]


@committing
def test_a_failing_ndjson_write_keeps_the_record_and_raises_the_counter(settings, tmp_path, api):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.LOG_DIR = blocker / "logs"
    before = value("echopilot_ndjson_write_errors_total", stream="feature_flags")
    response = api.post(
        "/api/flags/set", {"key": "ops.metrics_demo", "value": True, "create": True}, format="json"
    )
    assert response.status_code == 201, response.content
    from flags.models import Flag

    assert Flag.objects.filter(key="ops.metrics_demo").exists()
    assert OutboxEntry.objects.filter(file="feature_flags.ndjson").exists()
    assert value("echopilot_ndjson_write_errors_total", stream="feature_flags") == before + 1

    settings.LOG_DIR = tmp_path / "logs"
    mirror.resume()
    assert mirror.flush().error == ""
    assert [r["key"] for r in read_ndjson(settings.LOG_DIR, "feature_flags")] == [
        "ops.metrics_demo"
    ]


@committing
def test_flag_changes_count_committed_rows_by_source(api):
    before = value("echopilot_flag_changes_total", source="api")
    api.post("/api/flags/set", {"key": "ops.m1", "value": 1, "create": True}, format="json")
    api.post("/api/flags/set", {"key": "ops.m1", "value": 2}, format="json")
    assert value("echopilot_flag_changes_total", source="api") == before + 2
    from flags.services import flag_set

    cli = value("echopilot_flag_changes_total", source="cli")
    with pytest.raises(RuntimeError), transaction.atomic():
        flag_set(key="ops.m1", value=3, actor="cli")
        raise RuntimeError("rolled back")
    assert value("echopilot_flag_changes_total", source="cli") == cli
    flag_set(key="ops.m1", value=4, actor="cli")
    assert value("echopilot_flag_changes_total", source="cli") == cli + 1


def test_flag_evaluations_from_the_usage_flush_sum_variants_and_bound_reasons():
    before = value("echopilot_flag_evaluations_total", flag="ops.f", reason="SPLIT")
    other = value("echopilot_flag_evaluations_total", flag="ops.f", reason="other")
    metrics.record_flag_evaluations(
        {("ops.f", "on", "SPLIT"): 3, ("ops.f", "off", "SPLIT"): 2, ("ops.f", "x", "WEIRD"): 1}
    )
    assert value("echopilot_flag_evaluations_total", flag="ops.f", reason="SPLIT") == before + 5
    assert value("echopilot_flag_evaluations_total", flag="ops.f", reason="other") == other + 1


@committing
def test_exposures_and_events_are_counted_with_undeclared_events_as_other(api):
    from experiments import services

    services.load_config(actor="config")
    exp = {"exp": "pricing_v2", "user": "metrics-user-1"}
    variant = api.get("/api/exp/assign", exp).json()["variant"]
    assert value("echopilot_experiment_exposures_total", experiment="pricing_v2", variant=variant)
    before = value("echopilot_experiment_events_total", experiment="pricing_v2", event="other")
    body = {"event": "signup-4711", "user": "metrics-user-1", "exp": "pricing_v2"}
    assert api.post("/api/exp/log", body, format="json").status_code == 200
    after = value("echopilot_experiment_events_total", experiment="pricing_v2", event="other")
    assert after == before + 1
    assert "signup-4711" not in metrics.exposition().decode()
    # A declared metric (here the default primary, conversion) is counted by its name.
    named = value("echopilot_experiment_events_total", experiment="pricing_v2", event="conversion")
    body = {"event": "conversion", "user": "metrics-user-1", "exp": "pricing_v2"}
    assert api.post("/api/exp/log", body, format="json").status_code == 200
    assert (
        value("echopilot_experiment_events_total", experiment="pricing_v2", event="conversion")
        == named + 1
    )


@pytest.mark.django_db
def test_scheduled_runs_are_counted_by_outcome_with_the_last_success():
    schedules.register("demo.metrics_job", "x.y", minutes=60)
    try:
        ok = value("echopilot_task_runs_total", task="demo.metrics_job", outcome="ok")
        schedules.scheduled("demo.metrics_job")(lambda: {"ok": True})()
        assert value("echopilot_task_runs_total", task="demo.metrics_job", outcome="ok") == ok + 1
        stamp = value("echopilot_task_last_success_timestamp_seconds", task="demo.metrics_job")
        assert stamp > 1.7e9
        schedules.scheduled("demo.metrics_job")(lambda: {"ok": True})()  # within the gap
        assert value("echopilot_task_runs_total", task="demo.metrics_job", outcome="skipped") >= 1
        with pytest.raises(ZeroDivisionError):
            schedules.scheduled("demo.metrics_crash")(lambda: 1 / 0)()
        assert value("echopilot_task_runs_total", task="demo.metrics_crash", outcome="error") >= 1
        samples = scrape()
        assert samples[("echopilot_task_period_seconds", (("task", "demo.metrics_job"),))] == 3600
    finally:
        schedules.REGISTRY.pop("demo.metrics_job", None)


@pytest.mark.django_db
def test_scrape_time_gauges_read_the_stored_state():
    from django.utils import timezone

    from costs.models import CostReport
    from incidents.models import Alert, Incident

    now = timezone.now()
    incident = Incident.objects.create(
        severity="HIGH", issue_keys=["x"], details={}, opened_at=now, last_seen_at=now
    )
    Alert.objects.create(
        incident=incident, kind=Alert.Kind.values[0], text="t", created_at=now, next_attempt_at=now
    )
    zeros = dict.fromkeys(
        ["storage_bytes", "storage_monthly_usd", "compute_hours", "compute_monthly_usd"]
        + ["bandwidth_bytes", "bandwidth_monthly_usd"],
        0,
    )
    CostReport.objects.create(
        total_monthly_usd=12.5, payload={}, actor="cli", created_at=now, currency="USD", **zeros
    )
    samples = scrape()
    assert samples[("echopilot_incident_open", (("severity", "HIGH"),))] == 1
    assert samples[("echopilot_incident_open", (("severity", "MEDIUM"),))] == 0
    assert samples[("echopilot_alerts_pending", ())] == 1
    assert samples[("echopilot_cost_monthly_usd", ())] == 12.5


def test_metrics_off_counts_nothing_and_hides_the_endpoint(settings, api):
    settings.METRICS_ENABLED = False
    response = api.get("/metrics")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_a_missing_metrics_directory_fails_the_checks(monkeypatch, tmp_path):
    from echopilot.checks import metrics_directory

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "absent"))
    assert [e.id for e in metrics_directory(None)] == ["echopilot.E017"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics_directory(None) == []


@pytest.mark.django_db
def test_the_last_success_survives_a_restart_through_the_run_ledger():
    import datetime as dt

    from echopilot.models import ScheduleRun

    at = dt.datetime(2026, 11, 27, 3, 52, tzinfo=dt.UTC)
    ScheduleRun.objects.create(name="demo.ledger_ok", last_finished_at=at, last_ok=True)
    ScheduleRun.objects.create(name="demo.ledger_failed", last_finished_at=at, last_ok=False)
    samples = scrape()
    key = "echopilot_task_last_success_timestamp_seconds"
    assert samples[(key, (("task", "demo.ledger_ok"),))] == at.timestamp()
    assert (key, (("task", "demo.ledger_failed"),)) not in samples
