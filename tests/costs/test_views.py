"""GET /api/costs/report and /api/costs/history."""

import datetime as dt

import pytest
from django.utils import timezone

from costs.models import CostReport

pytestmark = pytest.mark.django_db


def test_report_computes_without_storing(api, log_dir):
    res = api.get("/api/costs/report")

    assert res.status_code == 200
    body = res.json()
    assert body["ok"] is True and body["saved"] is False
    assert {"storage", "compute", "total_monthly_usd", "pricing", "bandwidth"} <= set(body)
    assert CostReport.objects.count() == 0
    assert not (log_dir / "cost_report.json").exists()
    assert not (log_dir / "cost_report.ndjson").exists()


def test_format_parameter_is_drfs_not_a_filter(api):
    report = api.get("/api/costs/report?format=json")
    history = api.get("/api/costs/history?days=7&format=json")

    assert report.status_code == 200 and report.json()["saved"] is False
    assert history.status_code == 200 and history.json()["count"] == 0
    assert CostReport.objects.count() == 0


def test_report_save_true_stores_it_with_the_api_actor(api):
    res = api.get("/api/costs/report?save=true")

    body = res.json()
    assert res.status_code == 200 and body["saved"] is True
    row = CostReport.objects.get()
    assert body["report_id"] == row.id
    assert row.actor.startswith("api:k_")


@pytest.mark.parametrize("query", ["save=maybe", "save=", "verbose=1"])
def test_report_bad_query_is_400(api, query):
    res = api.get(f"/api/costs/report?{query}")

    assert res.status_code == 400
    assert res.json()["ok"] is False and res.json()["error"] == "invalid"
    assert CostReport.objects.count() == 0


def test_report_needs_the_key(anon):
    res = anon.get("/api/costs/report")

    assert res.status_code == 401
    assert res.json()["error"] == "unauthorized"


def test_history_returns_the_window_oldest_first(api, make_report):
    now = timezone.now()
    old = make_report(now - dt.timedelta(days=100), 1.0)
    mid = make_report(now - dt.timedelta(days=40), 2.0)
    new = make_report(now - dt.timedelta(days=1), 3.0)

    default = api.get("/api/costs/history").json()
    week = api.get("/api/costs/history?days=7").json()
    year = api.get("/api/costs/history?days=365").json()

    assert default["ok"] is True
    assert [r["id"] for r in default["reports"]] == [mid.id, new.id]
    assert default["count"] == 2
    assert [r["id"] for r in week["reports"]] == [new.id]
    assert [r["id"] for r in year["reports"]] == [old.id, mid.id, new.id]
    assert year["reports"][0]["total"] == 1.0  # the stored payload
    assert year["reports"][0]["actor"] == "cli"


@pytest.mark.parametrize("days", ["0", "3651", "abc", "1.5", "7.0", "-3", " 7", ""])
def test_history_days_out_of_range_or_not_an_integer_is_400(api, days):
    res = api.get("/api/costs/history", {"days": days})

    assert res.status_code == 400
    assert res.json()["error"] == "invalid"
    assert "days" in res.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/costs/history?days=7&days=30", "/api/costs/report?save=true&save=false"]
)
def test_a_parameter_given_twice_is_400(api, path):
    res = api.get(path)

    assert res.status_code == 400
    assert res.json()["error"] == "invalid"
    assert "more than once" in res.json()["detail"]
    assert CostReport.objects.count() == 0


@pytest.mark.parametrize("days", ["1", "3650"])
def test_history_days_bounds_are_accepted(api, days):
    assert api.get(f"/api/costs/history?days={days}").status_code == 200


def test_schema_documents_both_endpoints(api):
    res = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert res.status_code == 200
    paths = res.json()["paths"] if res.headers["Content-Type"].endswith("json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(res.content)["paths"]
    assert "save" in str(paths["/api/costs/report"]["get"]["parameters"])
    assert "days" in str(paths["/api/costs/history"]["get"]["parameters"])
