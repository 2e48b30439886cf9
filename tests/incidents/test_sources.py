"""Reading the signals: thresholds, detail lines, bad input, the backwards NDJSON walk."""

import datetime as dt
import io
import json

import pytest

from incidents import sources
from incidents.sources import SentinelScan, iter_lines_backwards
from tests.incidents.conftest import START

pytestmark = pytest.mark.django_db


def collect():
    return sources.collect(START)


def test_seed_example_gives_the_seed_detail_lines(signals, no_costs):
    signals.slo(1500, 0.96)
    signals.payout(2, 1)
    signals.ops("high_cpu")
    issues, report = collect()
    assert [i.detail for i in issues] == [
        "SLO breach: P95=1500ms, Success=0.96",
        "Payout issues: 2 missing, 1 mismatched",
        "System warnings: high_cpu",
    ]
    assert {k: v["status"] for k, v in report.items()} == {
        "slo": "ok",
        "payout": "ok",
        "ops": "ok",
        "production_alerts": "missing",
        "alertmanager": "ok",
        "cost": "missing",
        "self": "ok",
    }


def test_missing_sources_are_reported_missing_not_breach(signals, no_costs):
    issues, report = collect()
    assert issues == []
    for name in ("slo", "payout", "ops", "production_alerts"):
        assert report[name]["status"] == "missing"


@pytest.mark.parametrize(
    ("p95", "success", "breach"),
    [
        (1000, 0.99, False),  # exactly at the thresholds
        (1001, 0.99, True),
        (400, 0.989, True),
        (400, 99.5, False),  # a percentage
        (400, 96, True),
    ],
)
def test_slo_thresholds(signals, no_costs, p95, success, breach):
    signals.slo(p95, success)
    issues, _ = collect()
    assert bool(issues) is breach


def test_slo_percentage_is_shown_as_a_fraction(signals, no_costs):
    signals.slo(1500, 96)
    issues, _ = collect()
    assert issues[0].detail == "SLO breach: P95=1500ms, Success=0.96"


@pytest.mark.parametrize(
    ("p95", "success", "line"),
    [
        (1500, 0.96, "SLO breach: P95=1500ms, Success=0.96"),
        (12345678, 0.96, "SLO breach: P95=12345678ms, Success=0.96"),
        (1500.5, 0.999, "SLO breach: P95=1500.5ms, Success=0.999"),
        # just below the 0.99 minimum: must not round to a compliant-looking 0.99
        (400, 0.98999, "SLO breach: P95=400ms, Success=0.98999"),
        (400, 0.98999999, "SLO breach: P95=400ms, Success=0.98999999"),
        (400, 95.9, "SLO breach: P95=400ms, Success=0.959"),
        (1e20, 0.999, "SLO breach: P95=100000000000000000000ms, Success=0.999"),
        (400, 1e-7, "SLO breach: P95=400ms, Success=0.0000001"),
    ],
)
def test_slo_numbers_print_exactly_without_exponent(signals, no_costs, p95, success, line):
    signals.slo(p95, success)
    issues, _ = collect()
    assert [i.detail for i in issues] == [line]


def test_thresholds_come_from_settings(signals, no_costs, settings):
    settings.SLO_P95_MS = 2000
    signals.slo(1500, 0.999)
    assert collect()[0] == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ('{"p95_ms": 15', "not JSON"),
        ("hello", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"p95_ms": "1500", "success_rate": 0.9}', "p95_ms is not a number"),
        ('{"p95_ms": true, "success_rate": 0.9}', "p95_ms is not a number"),
        ('{"success_rate": 0.9}', "p95_ms is missing"),
        ('{"p95_ms": 100, "success_rate": 250}', "success_rate out of range"),
        ('{"p95_ms": NaN, "success_rate": 0.9}', "not a finite number"),
    ],
)
def test_bad_slo_file_is_invalid_with_reason(signals, no_costs, content, reason):
    signals.write("slo_report.json", content)
    issues, report = collect()
    assert issues == []
    assert report["slo"]["status"] == "invalid"
    assert reason in report["slo"]["reason"]


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"missing": "2", "mismatched": 0}, "missing is not an integer"),
        ({"missing": -1, "mismatched": 0}, "negative"),
        ({"missing": 1}, "mismatched is missing"),
    ],
)
def test_bad_payout_file_is_invalid(signals, no_costs, doc, reason):
    signals.write("payout_recon.json", doc)
    _, report = collect()
    assert report["payout"]["status"] == "invalid"
    assert reason in report["payout"]["reason"]


def test_production_alerts_only_critical_and_bad_entries_counted(signals, no_costs):
    signals.write(
        "production_alerts.json",
        {
            "active": [
                {"name": "db_down", "severity": "critical"},
                {"name": "slow_disk", "severity": "warning"},
                {"name": "api_5xx", "severity": "CRITICAL"},
                "not an object",
                {"severity": "critical"},
            ]
        },
    )
    issues, report = collect()
    assert [i.detail for i in issues] == ["Production alert: db_down", "Production alert: api_5xx"]
    assert [i.key for i in issues] == ["alert:db_down", "alert:api_5xx"]
    assert report["production_alerts"]["skipped_entries"] == 2


def test_production_alerts_wrong_shape_is_invalid(signals, no_costs):
    signals.write("production_alerts.json", {"active": "db_down"})
    _, report = collect()
    assert report["production_alerts"]["status"] == "invalid"


def test_unreadable_file_is_invalid(signals, no_costs):
    signals.path("slo_report.json").mkdir()
    _, report = collect()
    assert report["slo"]["status"] == "invalid"
    assert report["slo"]["reason"].startswith("cannot read")


def test_source_paths_can_be_overridden(signals, no_costs, settings, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"missing": 0, "mismatched": 3}))
    settings.INCIDENT_PAYOUT_RECON_PATH = str(elsewhere)
    issues, report = collect()
    assert report["payout"]["path"] == str(elsewhere)
    assert issues[0].detail == "Payout issues: 0 missing, 3 mismatched"


# --- ops_sentinel.ndjson ---------------------------------------------------------


def write_lines(signals, lines):
    with signals.path("ops_sentinel.ndjson").open("a") as fh:
        for line in lines:
            fh.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def ts(minutes_ago):
    return (START - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_ops_window_levels_and_warning_lists(signals, no_costs):
    write_lines(
        signals,
        [
            {"ts_iso": ts(30), "level": "warning", "type": "old_warning"},
            {"ts_iso": ts(5), "level": "info", "type": "heartbeat"},
            {"ts_iso": ts(5), "level": "DEBUG", "type": "noise"},
            {"ts_iso": ts(4), "level": "warning", "type": "high_ram"},
            {"ts_iso": ts(3), "level": "error", "warnings": ["disk_full", "high_cpu"]},
            # no offset: read as UTC, so 2 minutes ago
            {"ts_iso": ts(2).rstrip("Z"), "level": "critical", "type": "swap"},
        ],
    )
    issues, report = collect()
    assert [i.detail for i in issues] == ["System warnings: disk_full, high_cpu, high_ram, swap"]
    assert issues[0].keys == ["ops:disk_full", "ops:high_cpu", "ops:high_ram", "ops:swap"]
    assert report["ops"]["warnings"] == 3


def test_ops_window_setting(signals, no_costs, settings):
    write_lines(signals, [{"ts_iso": ts(20), "level": "warning", "type": "high_cpu"}])
    assert collect()[0] == []
    settings.OPS_WARNING_WINDOW_MINUTES = 30
    assert collect()[0][0].detail == "System warnings: high_cpu"


def test_ops_offset_timestamps(signals, no_costs):
    # 13:55+02:00 is 11:55Z: 5 minutes before START
    write_lines(signals, [{"ts_iso": "2026-01-05T13:55:00+02:00", "type": "high_cpu"}])
    assert collect()[0][0].detail == "System warnings: high_cpu"


def test_ops_broken_and_long_lines_are_skipped_and_counted(signals, no_costs):
    write_lines(
        signals,
        [
            {"ts_iso": ts(3), "level": "warning", "type": "high_cpu"},
            '{"ts_iso": "' + ts(2) + '", "level": "warn',  # truncated
            "not json at all",
            "[1, 2, 3]",
            json.dumps({"ts_iso": "yesterday", "type": "x"}),
            json.dumps({"ts_iso": ts(2), "type": "huge", "pad": "x" * 70_000}),
            b"\xff\xfe".decode("latin-1"),
            {"ts_iso": ts(1), "level": "warning", "type": "high_ram"},
        ],
    )
    issues, report = collect()
    assert issues[0].detail == "System warnings: high_cpu, high_ram"
    assert report["ops"]["skipped_long_lines"] == 1
    assert report["ops"]["skipped_broken_lines"] == 5
    assert report["ops"]["status"] == "ok"


def test_ops_stops_at_the_window_without_reading_old_data(signals, no_costs):
    old = json.dumps({"ts_iso": ts(600), "level": "warning", "type": "ancient"}) + "\n"
    path = signals.path("ops_sentinel.ndjson")
    path.write_text(old * 50_000)  # ~3.5 MB of old lines
    write_lines(signals, [{"ts_iso": ts(1), "level": "warning", "type": "high_cpu"}])
    issues, report = collect()
    assert issues[0].detail == "System warnings: high_cpu"
    assert report["ops"]["bytes_read"] <= 2 * sources.BLOCK
    assert report["ops"]["lines_read"] < 2000


def test_ops_future_lines_are_skipped_and_counted(signals, no_costs):
    write_lines(
        signals,
        [
            {"ts_iso": ts(3), "level": "warning", "type": "high_cpu"},
            {"ts_iso": ts(-2), "level": "warning", "type": "clock_skew_ok"},  # within slack
            {"ts_iso": ts(-60), "level": "warning", "type": "from_the_future"},
            {"ts_iso": "9999-12-31T23:59:59-05:00", "level": "warning", "type": "forever"},
        ],
    )
    issues, report = collect()
    assert issues[0].detail == "System warnings: clock_skew_ok, high_cpu"
    assert report["ops"]["skipped_future_lines"] == 2
    assert report["ops"]["status"] == "ok"


def test_ops_window_out_of_range_is_clamped_not_invalid(signals, no_costs, settings):
    settings.OPS_WARNING_WINDOW_MINUTES = float("inf")
    write_lines(signals, [{"ts_iso": ts(60 * 24 * 30), "level": "warning", "type": "old"}])
    issues, report = collect()
    assert report["ops"]["status"] == "ok"
    assert report["ops"]["window_minutes"] == 525_600
    assert issues[0].detail == "System warnings: old"


def test_ops_empty_file_is_no_breach(signals, no_costs):
    signals.write("ops_sentinel.ndjson", "")
    issues, report = collect()
    assert issues == [] and report["ops"]["status"] == "ok"


@pytest.mark.parametrize("block", [1, 3, 7, 64])
def test_backwards_reader_yields_every_line_in_reverse(monkeypatch, block):
    monkeypatch.setattr(sources, "BLOCK", block)
    monkeypatch.setattr(sources, "MAX_LINE", 20)
    lines = [b"alpha", b"", b"b", b"x" * 25, b"charlie-delta", b"y" * 21, b"end"]
    data = b"\n".join(lines)  # no final newline: the last line still counts
    scan = SentinelScan()
    got = list(iter_lines_backwards(io.BytesIO(data), len(data), scan))
    assert got == [b"end", b"charlie-delta", b"b", b"", b"alpha"]
    assert scan.long_lines == 2


def test_backwards_reader_long_first_line(monkeypatch):
    monkeypatch.setattr(sources, "BLOCK", 4)
    monkeypatch.setattr(sources, "MAX_LINE", 10)
    data = b"z" * 30 + b"\nok\n"
    scan = SentinelScan()
    got = list(iter_lines_backwards(io.BytesIO(data), len(data), scan))
    assert got == [b"", b"ok"]
    assert scan.long_lines == 1


# --- cost ------------------------------------------------------------------------


def test_cost_over_budget_through_the_costs_selector(signals, monkeypatch):
    import costs.selectors

    monkeypatch.setattr(
        costs.selectors,
        "latest_budget_status",
        lambda: {
            "over_budget": True,
            "total_monthly_usd": 123.456,
            "budget_usd": 100.0,
            "currency": "EUR",
            "percent_used": 123.4,
            "report_id": 7,
            "ts_iso": "2026-01-05T01:10:00Z",
        },
    )
    issues, report = collect()
    assert [(i.key, i.detail) for i in issues] == [
        ("cost", "Cost over budget: 123.46 of 100.00 EUR")
    ]
    assert report["cost"] == {"status": "ok", "over_budget": True, "report_id": 7}


def test_a_real_over_budget_cost_report_is_an_issue(signals, settings):
    """Store a real report through the costs app and scan: no monkeypatching."""
    from costs import services as cost_services
    from incidents import services

    settings.COST_MONTHLY_BUDGET_USD = 1e-9
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 24.0  # 730 h x 0.05 = 36.50 a month
    settings.COST_CPU_PER_HOUR = 0.05
    settings.COST_CURRENCY = "EUR"
    stored = cost_services.create_report(save=True, actor="cli")
    assert stored["saved"] is True and stored["budget"]["over_budget"] is True

    result = services.scan(actor="cli")

    projection = f"{stored['total_monthly_usd']:.2f}"
    assert projection.startswith("36.5")
    assert result["details"] == [f"Cost over budget: {projection} of 0.000000001 EUR"]
    assert [i["key"] for i in result["issues"]] == ["cost"]
    assert result["sources"]["cost"] == {
        "status": "ok",
        "over_budget": True,
        "report_id": stored["report_id"],
    }
    assert result["breach"] is True and result["severity"] == "MEDIUM"


def test_cost_with_no_report_is_missing(signals):
    # The real costs selector, with no cost report stored.
    _, report = collect()
    assert report["cost"]["status"] == "missing"


def test_cost_selector_failure_is_invalid_not_a_crash(signals, monkeypatch):
    import costs.selectors

    def broken():
        raise RuntimeError("table gone")

    monkeypatch.setattr(costs.selectors, "latest_budget_status", broken)
    _, report = collect()
    assert report["cost"] == {"status": "invalid", "reason": "RuntimeError: table gone"}


@pytest.mark.parametrize("char", ["a", "é", "🚨"])
def test_fit_cuts_to_telegram_limit_in_utf16_units(char):
    from echopilot.channels.telegram import MAX_MESSAGE, fit

    text = char * 10_000
    cut = fit(text)
    units = len(cut.encode("utf-16-le")) // 2
    assert MAX_MESSAGE - 2 <= units <= MAX_MESSAGE
    assert cut.startswith(char * 100) and "(message cut:" in cut
    assert fit("short") == "short"


@pytest.mark.django_db
def test_the_services_own_trouble_becomes_self_issues(monkeypatch):
    from echopilot import status

    monkeypatch.setitem(
        status.PROBES, "mirror", lambda: status.Component("behind", "12 line(s) wait")
    )
    monkeypatch.setitem(status.PROBES, "telegram", lambda: status.Component("failing", "429"))
    issues, report = sources.collect(START)
    mine = [i for i in issues if i.key.startswith("self:")]
    assert [(i.key, i.detail) for i in mine] == [
        ("self:mirror_behind", "EchoPilot mirror behind: 12 line(s) wait")
    ]  # telegram's trouble is not alerted through telegram
    assert report["self"] == {"status": "ok", "unhealthy": ["mirror", "telegram"]}
