"""The scheduled task: registered every 5 minutes, never raises, stores no secret."""

import pytest

from echopilot import schedules
from incidents import services, tasks
from incidents.models import Incident
from tests.conftest import read_ndjson

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


def test_registered_every_five_minutes():
    entry = schedules.discover()["incidents.scan"]
    assert entry.func == "incidents.tasks.scan" and entry.minutes == 5


def test_task_returns_a_short_summary(committed, signals, log_dir):
    signals.slo()
    with committed():
        result = tasks.scan()
    assert result == {
        "ok": True,
        "breach": True,
        "incident_count": 1,
        "incident_id": Incident.objects.get().pk,
        "alerted": True,
        "delivered": 0,
        "dry_run": True,
        "sources": {
            "slo": "ok",
            "payout": "missing",
            "ops": "missing",
            "production_alerts": "missing",
            "alertmanager": "ok",
            "cost": "missing",
            "self": "ok",
        },
    }
    assert Incident.objects.get().opened_by == "schedule"
    assert [line["type"] for line in read_ndjson(log_dir, "incidents")][-1] == "scan"


def test_task_never_raises(committed, monkeypatch, log_dir, settings):
    settings.TELEGRAM_BOT_TOKEN = "999:leaky-token-value"

    def explode(**kwargs):
        raise RuntimeError("boom with 999:leaky-token-value inside")

    monkeypatch.setattr(services, "scan", explode)
    with committed():
        result = tasks.scan()
    assert result == {"ok": False, "error": "RuntimeError: boom with *** inside"}
    line = (log_dir / "incidents.ndjson").read_text()
    assert '"type":"scan_failed"' in line and "leaky" not in line
