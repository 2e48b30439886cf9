"""The scheduled task: registered every 5 minutes, never raises, stores no secret."""

import pytest

from echopilot import schedules
from incidents import services, tasks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_costs")]


def test_registered_every_five_minutes():
    entry = schedules.discover()["incidents.scan"]
    assert entry.func == "incidents.tasks.scan" and entry.minutes == 5


def test_task_returns_a_short_summary(signals, log_dir):
    signals.slo()
    result = tasks.scan()
    assert result["ok"] is True and result["breach"] is True and result["incident_count"] == 1
    assert result["sources"]["slo"] == "ok"
    from incidents.models import Incident

    assert Incident.objects.get().opened_by == "schedule"


def test_task_never_raises(monkeypatch, log_dir, settings):
    settings.TELEGRAM_BOT_TOKEN = "999:leaky-token-value"

    def explode(**kwargs):
        raise RuntimeError("boom with 999:leaky-token-value inside")

    monkeypatch.setattr(services, "scan", explode)
    result = tasks.scan()
    assert result == {"ok": False, "error": "RuntimeError: boom with *** inside"}
    line = (log_dir / "incidents.ndjson").read_text()
    assert '"type":"scan_failed"' in line and "leaky" not in line
