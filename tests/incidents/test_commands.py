"""manage.py incidents scan|signals|list|ack|resolve|silence|silences|unsilence, and the
seed's names incident_scan and incident_signals (aliases of scan and signals)."""

import json
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents.management.commands.incident_scan import Command as IncidentScan
from incidents.management.commands.incident_signals import Command as IncidentSignals
from incidents.models import Incident, Silence
from tests.conftest import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_incident_scan_prints_the_seed_json(signals):
    signals.slo()
    signals.payout()
    result = json.loads(run("incident_scan"))
    assert result["ok"] is True and result["incident_count"] == 2
    assert result["severity"] == "MEDIUM"
    assert Incident.objects.get().opened_by == "cli"


def test_signals_breach_then_healthy_walks_an_incident_through_its_life(log_dir):
    run("incident_signals", "--breach")
    opened = json.loads(run("incident_scan"))
    assert opened["breach"] is True and opened["incident_count"] == 4
    assert opened["details"][2] == "System warnings: high_cpu, high_ram"
    assert opened["alert"]["status"] == "dry_run"
    out = run("incident_signals", "--healthy")
    assert "replaced" in out
    resolved = json.loads(run("incident_scan"))
    assert resolved["breach"] is False and resolved["incident_status"] == "resolved"


def test_signals_healthy_never_rewrites_a_real_sentinel_file(log_dir):
    log_dir.mkdir(parents=True)
    real = log_dir / "ops_sentinel.ndjson"
    real.write_text('{"ts_iso": "2026-01-01T00:00:00Z", "level": "info", "type": "boot"}\n')
    out = run("incident_signals", "--healthy")
    assert "appended to" in out
    assert real.read_text().startswith('{"ts_iso": "2026-01-01T00:00:00Z"')


def test_signals_needs_a_mode():
    with pytest.raises(CommandError):
        call_command("incident_signals")


def test_incidents_scan_and_signals_are_the_new_names(log_dir):
    out = run("incidents", "signals", "--breach")
    assert out.splitlines()[-1] == "now run: manage.py incidents scan"
    assert f"wrote {log_dir / 'slo_report.json'}" in out
    assert f"appended to {log_dir / 'ops_sentinel.ndjson'}" in out
    pretty = run("incidents", "scan")
    assert pretty.startswith('{\n  "ok": true,')
    opened = json.loads(pretty)
    assert opened["incident_count"] == 4 and opened["incident_status"] == "open"
    assert Incident.objects.get().opened_by == "cli"
    assert "replaced" in run("incidents", "signals", "--healthy")
    compact = run("incidents", "scan", "--compact")
    assert compact.count("\n") == 1  # one line of JSON
    assert json.loads(compact)["incident_status"] == "resolved"


def test_seed_names_are_aliases_of_the_actions(signals):
    assert IncidentScan.help.endswith("(Same as `manage.py incidents scan`.)")
    assert IncidentSignals.help.endswith("(Same as `manage.py incidents signals`.)")
    signals.slo()
    first = run("incident_scan", "--compact")
    second = run("incidents", "scan", "--compact")
    assert first.count("\n") == second.count("\n") == 1
    first, second = json.loads(first), json.loads(second)
    assert first["incident_id"] == second["incident_id"] == Incident.objects.get().pk
    assert first["alerted"] is True and second["alerted"] is False  # one episode, one alert
    assert first["details"] == second["details"] == ["SLO breach: P95=1500ms, Success=0.96"]
    with pytest.raises(CommandError, match="one of the arguments --healthy --breach is required"):
        call_command("incident_signals")
    with pytest.raises(CommandError, match="one of the arguments --healthy --breach is required"):
        call_command("incidents", "signals")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ack", "999"], 3, "No incident with id 999."),
        (["resolve", "999"], 3, "No incident with id 999."),
        (["unsilence", "999"], 3, "No silence with id 999."),
        (["list", "--limit", "0"], 2, "'limit' must be between 1 and 500."),
        (["list", "--limit", "501"], 2, "'limit' must be between 1 and 500."),
        (["silence", "bogus", "--minutes", "5"], 2, "Unknown issue key 'bogus'"),
        (["silence", "slo", "--minutes", "0"], 2, "'minutes' must be above 0"),
        (["silence", "slo", "--until", "soon"], 2, "--until 'soon' is not an ISO-8601 time."),
    ],
)
def test_failures_exit_with_the_errors_code(clock, args, code, message):
    with pytest.raises(CommandError, match=re.escape(message)) as failed:
        call_command("incidents", *args)
    assert failed.value.returncode == code


def test_ack_of_a_resolved_incident_is_a_conflict(signals):
    signals.slo()
    pk = json.loads(run("incidents", "scan"))["incident_id"]
    run("incidents", "resolve", str(pk))
    assert run("incidents", "resolve", str(pk)) == f"Already resolved: incident #{pk}.\n"
    with pytest.raises(CommandError, match=f"Incident {pk} is already resolved.") as failed:
        call_command("incidents", "ack", str(pk))
    assert failed.value.returncode == 4


def test_silences_list_and_unsilence(clock):
    assert run("incidents", "silences") == "No silences.\n"
    run("incidents", "silence", "ops:high_cpu", "--minutes", "30", "--reason", "deploy")
    run("incidents", "silence", "slo", "--minutes", "60")
    slo, ops = Silence.objects.order_by("-until")
    listed = run("incidents", "silences")
    assert listed.splitlines() == [
        f"#{slo.pk:<5} {'slo':<24} until 2026-01-05T13:00:00Z  by cli",
        f"#{ops.pk:<5} {'ops:high_cpu':<24} until 2026-01-05T12:30:00Z  by cli  (deploy)",
    ]
    clock.advance(minutes=5)
    out = run("incidents", "unsilence", str(ops.pk))
    assert out == f"Silence #{ops.pk} (ops:high_cpu) ended at 2026-01-05T12:05:00Z.\n"
    assert [r["key"] for r in json.loads(run("incidents", "silences", "--json"))] == ["slo"]
    every = json.loads(run("incidents", "silences", "--all", "--json"))
    assert [(r["key"], r["until"]) for r in every] == [
        ("slo", "2026-01-05T13:00:00Z"),
        ("ops:high_cpu", "2026-01-05T12:05:00Z"),
    ]


def test_list_ack_resolve(signals):
    signals.slo()
    pk = json.loads(run("incident_scan"))["incident_id"]
    listed = run("incidents", "list")
    assert f"#{pk}" in listed and "• SLO breach: P95=1500ms, Success=0.96" in listed
    assert f"Acknowledged incident #{pk}." in run("incidents", "ack", str(pk))
    assert Incident.objects.get().acknowledged_by == "cli"
    assert f"Resolved incident #{pk}." in run("incidents", "resolve", str(pk))
    rows = json.loads(run("incidents", "list", "--json", "--status", "resolved"))
    assert [r["id"] for r in rows] == [pk]
    assert run("incidents", "list", "--status", "open") == "No incidents.\n"
    with pytest.raises(CommandError, match="already resolved"):
        call_command("incidents", "ack", str(pk))
    with pytest.raises(CommandError, match="No incident with id 999"):
        call_command("incidents", "resolve", "999")


def test_silence_command(clock):
    out = run("incidents", "silence", "ops:high_cpu", "--minutes", "30", "--reason", "deploy")
    assert out == "Silenced ops:high_cpu until 2026-01-05T12:30:00Z.\n"
    run("incidents", "silence", "slo", "--until", "2026-01-06T00:00:00")
    assert sorted(Silence.objects.values_list("key", "created_by")) == [
        ("ops:high_cpu", "cli"),
        ("slo", "cli"),
    ]
    with pytest.raises(CommandError):
        call_command("incidents", "silence", "bogus", "--minutes", "5")
    with pytest.raises(CommandError):
        call_command("incidents", "silence", "slo", "--until", "soon")
    with pytest.raises(CommandError):
        call_command("incidents", "silence", "slo", "--minutes", "-5")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--minutes", "1e12"], "at most 5256000"),
        (["--minutes", "inf"], "at most 5256000"),
        (["--minutes", "nan"], "at most 5256000"),
        (["--until", "9999-12-31T23:59:59-05:00"], "at most 3650 days ahead"),
        (["--until", "9999-12-31T23:59:59"], "at most 3650 days ahead"),
    ],
)
def test_silence_command_refuses_far_future(clock, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("incidents", "silence", "slo", *args)
    assert not Silence.objects.exists()


def test_silence_command_longest_allowed(clock):
    out = run("incidents", "silence", "slo", "--minutes", str(3650 * 24 * 60))
    assert out == "Silenced slo until 2036-01-03T12:00:00Z.\n"


@pytest.mark.external
@pytest.mark.django_db(transaction=True)  # the child processes share the database
def test_concurrent_scans_open_one_incident(settings, signals):
    """Four real processes scan at once; the constraint keeps one incident."""
    signals.slo()
    signals.payout()
    env = subprocess_env(settings)
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "incident_scan", "--compact"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out))
    assert Incident.objects.count() == 1
    assert {r["incident_id"] for r in results} == {Incident.objects.get().pk}
    assert sum(r["alerted"] for r in results) == 1  # one "open" alert, not four
