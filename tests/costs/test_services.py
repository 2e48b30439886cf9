"""The cost report: measured figures, projection units, budget, trend, storage of reports."""

import datetime as dt
import json

import pytest
from django.db import connection

from costs import selectors, services
from costs.models import BandwidthCounter, CostReport
from echopilot.exceptions import Invalid

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
SEED_KEYS = {"ok", "ts_iso", "storage", "compute", "total_monthly_usd", "pricing"}


def only_dirs(settings, tmp_path, files: dict[str, int]):
    """Write files of the given sizes under tmp_path (where LOG_DIR and BACKUP_DIR are)."""
    for rel, size in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


def storage_bytes_outside_db(report) -> int:
    return sum(r["bytes"] for r in report["storage"]["breakdown"] if "database" not in r["name"])


def test_report_keeps_the_seed_shape_and_adds_the_rest(settings):
    report = services.create_report(save=False, actor="cli")

    assert SEED_KEYS <= set(report)
    assert report["ok"] is True
    assert set(report["storage"]) >= {"bytes", "gb", "monthly_usd", "breakdown", "skipped"}
    assert set(report["compute"]) >= {"estimated_hours", "monthly_usd", "task_runs"}
    assert report["pricing"] == {
        "storage_per_gb_month": 0.023,
        "cpu_per_hour": 0.05,
        "bandwidth_per_gb": 0.09,
    }
    assert report["currency"] == "USD"
    assert report["budget"] is None
    assert report["trend"] == {"7d": None, "30d": None}
    assert report["saved"] is False and report["report_id"] is None
    assert CostReport.objects.count() == 0


def test_storage_counts_logs_backups_extra_dirs_and_database(settings, tmp_path):
    only_dirs(
        settings,
        tmp_path,
        {"logs/a.ndjson": 1000, "logs/sub/b": 500, "backups/x.tar": 20_000, "extra/e": 7},
    )
    settings.COST_STORAGE_DIRS = [str(tmp_path / "extra"), str(tmp_path / "missing")]

    report = services.create_report(save=False, actor="cli")

    by_name = {r["name"]: r for r in report["storage"]["breakdown"]}
    assert by_name["logs"]["bytes"] == 1500
    assert by_name["logs"]["subfolders"] == [{"name": "sub", "bytes": 500}]
    assert by_name["backups"]["bytes"] == 20_000
    assert by_name[str(tmp_path / "extra")]["bytes"] == 7
    missing = by_name[str(tmp_path / "missing")]
    assert missing["bytes"] == 0 and "does not exist" in missing["note"]
    if connection.vendor == "sqlite":
        assert by_name["database"]["bytes"] > 0
    else:
        assert "database" not in by_name
    assert report["storage"]["bytes"] == sum(r["bytes"] for r in by_name.values())


def test_nested_and_repeated_dirs_are_not_counted_twice(settings, tmp_path):
    only_dirs(settings, tmp_path, {"logs/a": 100, "logs/inner/b": 10})
    settings.COST_STORAGE_DIRS = [str(tmp_path / "logs" / "inner"), str(tmp_path / "logs")]

    report = services.create_report(save=False, actor="cli")

    assert storage_bytes_outside_db(report) == 110
    notes = [r["note"] for r in report["storage"]["breakdown"] if r["note"]]
    assert sum("counted there" in n for n in notes) == 2


def test_storage_price_uses_decimal_gigabytes(settings, tmp_path):
    settings.COST_STORAGE_DIRS = []
    settings.COST_STORAGE_PER_GB_MONTH = 2.0
    only_dirs(settings, tmp_path, {"logs/f": 250_000})

    report = services.create_report(save=False, actor="cli")

    total = report["storage"]["bytes"]
    assert report["storage"]["gb"] == round(total / 1e9, 6)
    assert report["storage"]["monthly_usd"] == round(total / 1e9 * 2.0, 6)


def test_compute_measures_task_time_in_the_window(settings, make_task):
    h = dt.timedelta(hours=1)
    make_task(NOW - 3 * h, NOW - 2 * h)  # 1 h, inside
    make_task(NOW - 25 * h, NOW - 23 * h)  # 2 h, of which 1 h inside the window
    make_task(NOW - 30 * h, NOW - 26 * h)  # before the window
    make_task(NOW - 10 * h, NOW - 10 * h + dt.timedelta(minutes=30), success=False)  # 0.5 h
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 2.0
    settings.COST_CPU_PER_HOUR = 0.1

    report = services.create_report(save=False, actor="cli", now=NOW)

    compute = report["compute"]
    assert compute["measured_hours"] == 2.5
    assert compute["task_runs"] == 3
    expected = (2.5 + 2.0) * 730 / 24
    assert compute["estimated_hours"] == round(expected, 6)
    assert compute["monthly_usd"] == round(expected * 0.1, 6)
    assert report["window"] == {
        "start_iso": "2026-03-09T12:00:00Z",
        "end_iso": "2026-03-10T12:00:00Z",
        "hours": 24.0,
        "hours_per_month": 730.0,
    }


def test_bandwidth_takes_today_and_the_windowed_share_of_yesterday(settings):
    BandwidthCounter.objects.create(day=NOW.date(), bytes=3_000_000, responses=30)
    # Yesterday: the window (from 12:00) holds half of it.
    BandwidthCounter.objects.create(day=NOW.date() - dt.timedelta(days=1), bytes=2_000_000)
    BandwidthCounter.objects.create(day=NOW.date() - dt.timedelta(days=2), bytes=9_999_999)
    settings.COST_BANDWIDTH_PER_GB = 0.5

    report = services.create_report(save=False, actor="cli", now=NOW)

    bw = report["bandwidth"]
    assert bw["bytes"] == 4_000_000
    assert bw["responses"] == 30
    assert bw["monthly_gb"] == round(4_000_000 * 730 / 24 / 1e9, 6)
    assert bw["monthly_usd"] == round(4_000_000 * 730 / 24 / 1e9 * 0.5, 6)


def test_total_is_the_rounded_sum_of_unrounded_parts(settings, make_task):
    BandwidthCounter.objects.create(day=NOW.date(), bytes=123_457)
    make_task(NOW - dt.timedelta(seconds=4321), NOW - dt.timedelta(seconds=1))
    settings.COST_CPU_PER_HOUR = 0.0333333
    settings.COST_BANDWIDTH_PER_GB = 0.0777777

    report = services.create_report(save=False, actor="cli", now=NOW)

    storage = report["storage"]["bytes"] / 1e9 * 0.023
    compute = (4320 / 3600) * 730 / 24 * 0.0333333
    bandwidth = 123_457 * 730 / 24 / 1e9 * 0.0777777
    assert report["total_monthly_usd"] == round(storage + compute + bandwidth, 6)
    assert report["compute"]["monthly_usd"] == round(compute, 6)


@pytest.mark.parametrize(
    ("budget", "percent", "reached", "over"),
    [
        (1000.0, 3.65, None, False),
        (73.0, 50.0, 50.0, False),
        (45.625, 80.0, 80.0, False),
        (36.5, 100.0, 100.0, True),
        (18.25, 200.0, 100.0, True),
    ],
)
def test_budget_percent_and_highest_threshold_reached(settings, budget, percent, reached, over):
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0  # 730 h a month at 0.05 -> 36.5
    settings.COST_STORAGE_PER_GB_MONTH = 0.0
    settings.COST_BANDWIDTH_PER_GB = 0.0
    settings.COST_MONTHLY_BUDGET_USD = budget

    report = services.create_report(save=False, actor="cli")

    assert report["total_monthly_usd"] == 36.5
    assert report["budget"]["percent_used"] == percent
    assert report["budget"]["threshold_reached"] == reached
    assert report["budget"]["over_budget"] is over


def test_budget_uses_custom_thresholds(settings):
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0
    settings.COST_STORAGE_PER_GB_MONTH = 0.0
    settings.COST_BANDWIDTH_PER_GB = 0.0
    settings.COST_MONTHLY_BUDGET_USD = 40.0  # 91.25%
    settings.COST_BUDGET_THRESHOLDS = "90, 25,75"

    budget = services.create_report(save=False, actor="cli")["budget"]

    assert budget["thresholds"] == [25.0, 75.0, 90.0]
    assert budget["threshold_reached"] == 90.0
    assert budget["over_budget"] is False


def test_trend_compares_with_reports_near_7_and_30_days_ago(settings, make_report):
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0  # total 36.5
    settings.COST_STORAGE_PER_GB_MONTH = 0.0
    settings.COST_BANDWIDTH_PER_GB = 0.0
    week = make_report(NOW - dt.timedelta(days=7, hours=-5), 29.2)
    make_report(NOW - dt.timedelta(days=7, hours=20), 1.0)  # farther from the 7-day mark
    make_report(NOW - dt.timedelta(days=32), 10.0)  # two days off the 30-day mark

    report = services.create_report(save=False, actor="cli", now=NOW)

    seven = report["trend"]["7d"]
    assert seven["report_id"] == week.id
    assert seven["total_monthly_usd"] == 29.2
    assert seven["change_usd"] == round(36.5 - 29.2, 6)
    assert seven["change_percent"] == 25.0
    assert report["trend"]["30d"] is None


def test_saving_stores_a_row_an_ndjson_line_and_the_latest_file(
    settings, log_dir, django_capture_on_commit_callbacks
):
    settings.COST_MONTHLY_BUDGET_USD = 10.0

    with django_capture_on_commit_callbacks(execute=True):
        report = services.create_report(save=True, actor="api:k_test")

    row = CostReport.objects.get()
    assert report["saved"] is True and report["report_id"] == row.id
    assert row.actor == "api:k_test"
    assert row.budget_usd == 10.0 and row.over_budget is False
    assert row.payload["total_monthly_usd"] == report["total_monthly_usd"]
    lines = (log_dir / "cost_report.ndjson").read_text().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["type"] == "cost_report" and line["report_id"] == row.id
    assert line["storage"]["bytes"] == report["storage"]["bytes"]
    latest = json.loads((log_dir / "cost_report.json").read_text())
    assert latest["report_id"] == row.id and latest["ok"] is True


def test_latest_budget_status_selector(settings):
    assert selectors.latest_budget_status() is None

    services.create_report(save=True, actor="cli")  # no budget configured
    assert selectors.latest_budget_status() is None

    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0
    settings.COST_STORAGE_PER_GB_MONTH = 0.0
    settings.COST_BANDWIDTH_PER_GB = 0.0
    settings.COST_MONTHLY_BUDGET_USD = 30.0
    settings.COST_CURRENCY = "EUR"
    report = services.create_report(save=True, actor="cli")

    status = selectors.latest_budget_status()
    assert status == {
        "over_budget": True,
        "total_monthly_usd": 36.5,
        "budget_usd": 30.0,
        "currency": "EUR",
        "percent_used": round(36.5 / 30 * 100, 4),
        "report_id": report["report_id"],
        "ts_iso": report["ts_iso"],
    }


def test_prune_tasks_keeps_35_days(make_task):
    from django_q.models import Task

    old = make_task(NOW - dt.timedelta(days=36), NOW - dt.timedelta(days=36) + dt.timedelta(1))
    recent = make_task(NOW - dt.timedelta(days=34), NOW - dt.timedelta(days=34))
    old.stopped = NOW - dt.timedelta(days=35, seconds=1)
    old.save()

    assert services.prune_tasks(now=NOW) == 1
    assert list(Task.objects.values_list("id", flat=True)) == [recent.id]


def test_daily_report_records_failure_instead_of_raising(settings, log_dir):
    settings.COST_CPU_PER_HOUR = "not a number"

    result = services.daily_report()

    assert result["ok"] is False
    assert any(e.startswith("report:") for e in result["errors"])
    assert CostReport.objects.count() == 0
    line = json.loads((log_dir / "cost_report.ndjson").read_text().splitlines()[-1])
    assert line["type"] == "cost_report_failed"


def test_daily_report_errors_are_redacted(settings, log_dir):
    # Django-Q2 stores the task's return value: no configured secret may be in it.
    settings.TELEGRAM_BOT_TOKEN = "999:leaky-token-value"
    settings.COST_CPU_PER_HOUR = "999:leaky-token-value"

    result = services.daily_report()

    assert result["ok"] is False
    assert result["errors"] == ["report: ValueError: could not convert string to float: '***'"]
    assert "leaky" not in json.dumps(result)
    assert "leaky" not in (log_dir / "cost_report.ndjson").read_text()


def test_a_budget_below_the_rounding_is_stored_unrounded(settings):
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0
    settings.COST_MONTHLY_BUDGET_USD = 1e-9

    report = services.create_report(save=True, actor="cli")

    assert report["budget"]["budget_usd"] == 0.0  # the response rounds to 6 decimals
    assert CostReport.objects.get().budget_usd == 1e-9
    assert selectors.latest_budget_status()["budget_usd"] == 1e-9


def test_daily_report_stores_and_prunes(make_task, log_dir):
    from django_q.models import Task

    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    make_task(long_ago, long_ago + dt.timedelta(minutes=1))

    result = services.daily_report()

    assert result["ok"] is True and result["pruned_tasks"] == 1
    assert CostReport.objects.get().id == result["report_id"]
    assert CostReport.objects.get().actor == "schedule"
    assert Task.objects.count() == 0


@pytest.mark.parametrize("days", [0, -1, selectors.MAX_HISTORY_DAYS + 1, True, 7.0, "7"])
def test_history_refuses_a_window_outside_the_limit(days):
    with pytest.raises(Invalid) as refused:
        selectors.reports_in_window(days=days)
    assert refused.value.code == "invalid"
    assert f"from 1 to {selectors.MAX_HISTORY_DAYS}" in refused.value.detail
