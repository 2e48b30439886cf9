"""`GET /api/status`: one report of every component, from the one selector."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from echopilot import mirror, schedules, status
from echopilot.models import ScheduleRun
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def components(api) -> dict:
    response = api.get("/api/status")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    return body


def test_status_needs_a_key(anon):
    response = anon.get("/api/status")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_a_quiet_installation_is_healthy(api, settings):
    settings.REDIS_URL = ""
    body = components(api)
    parts = body["components"]
    assert body["healthy"] is True
    assert parts["database"]["status"] == "ok" and parts["database"]["latency_ms"] >= 0
    assert parts["redis"]["status"] == "off"
    assert parts["mirror"] == {
        "status": "ok",
        "detail": "",
        "pending_lines": 0,
        "pending_entries": 0,
        "oldest_pending_age_s": None,
        "last_error": None,
    }
    assert parts["scheduler"]["status"] == "off"  # setup_schedules never ran


@pytest.mark.django_db(transaction=True)
def test_a_mirror_that_cannot_write_is_behind(api, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings.LOG_DIR = blocker / "logs"
    with transaction.atomic():
        mirror.append_many("things", [{"type": "t", "n": n} for n in range(3)])
    body = components(api)
    part = body["components"]["mirror"]
    assert body["healthy"] is False
    assert part["status"] == "behind" and part["pending_lines"] == 3
    assert "things.ndjson" in part["last_error"] and part["oldest_pending_age_s"] >= 0


def test_a_schedule_late_by_more_than_a_period_is_overdue(api, monkeypatch):
    entries = {}
    monkeypatch.setattr(schedules, "REGISTRY", entries)
    monkeypatch.setattr(schedules, "discover", lambda: dict(entries))
    schedules.register("demo.every5", "math.sqrt", minutes=5)
    schedules.register("demo.hourly", "math.sqrt", minutes=60)
    schedules.sync()
    now = timezone.now()
    ScheduleRun.objects.create(name="demo.hourly", last_finished_at=now, last_ok=True)
    assert components(api)["components"]["scheduler"]["status"] == "ok"

    Schedule.objects.filter(name="demo.every5").update(next_run=now - dt.timedelta(minutes=11))
    part = components(api)["components"]["scheduler"]
    assert part["status"] == "overdue" and part["detail"] == "late: demo.every5"
    assert part["schedules"]["demo.every5"]["overdue"] is True
    assert part["schedules"]["demo.hourly"]["last_success_iso"].endswith("Z")

    ScheduleRun.objects.create(name="demo.every5", last_finished_at=now, last_ok=True)
    assert components(api)["components"]["scheduler"]["status"] == "ok"


def test_redis_that_does_not_answer_is_down(api, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    part = components(api)["components"]["redis"]
    assert part["status"] == "down" and "REDIS_TIMEOUT" in part["detail"]


def test_a_live_redis_is_ok(api, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    part = components(api)["components"]["redis"]
    assert part["status"] in ("ok", "slow") and part["latency_ms"] >= 0


def test_a_probe_that_raises_reports_its_component_down(api, monkeypatch):
    monkeypatch.setitem(status.PROBES, "broken", lambda: 1 / 0)
    body = components(api)
    assert body["components"]["broken"]["status"] == "down"
    assert "ZeroDivisionError" in body["components"]["broken"]["detail"]
    assert body["healthy"] is False
