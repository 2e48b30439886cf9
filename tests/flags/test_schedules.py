"""Scheduled changes: the API, validation now and when due, exactly-once apply, cancel."""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

import flags
from flags import scheduling, services, tasks
from flags.models import Flag, FlagChange, FlagSchedule

pytestmark = pytest.mark.django_db


def iso(delta_seconds: float) -> str:
    return (timezone.now() + dt.timedelta(seconds=delta_seconds)).isoformat()


@pytest.fixture
def flag():
    services.flag_set(key="ui.banner", actor="cli", create=True, value=False)
    return "ui.banner"


def due_now(schedule_id: int) -> None:
    """Move a scheduled change's time into the past (as if its time had come)."""
    FlagSchedule.objects.filter(pk=schedule_id).update(at=timezone.now() - dt.timedelta(seconds=1))


def test_schedule_then_apply_once_through_the_service(api, flag, log_dir):
    body = {"key": flag, "at": iso(3600), "change": {"value": True}, "note": "launch"}
    created = api.post("/api/flags/schedule", body, format="json")
    assert created.status_code == 201, created.content
    assert set(created.json()) == {"ok", "id", "schedule"}
    row = created.json()["schedule"]
    assert created.json()["id"] == row["id"] == FlagSchedule.objects.get().pk
    assert (row["state"], row["change"], row["note"]) == ("pending", {"value": True}, "launch")
    assert row["created_by"].startswith("api:")
    # Django-Q2 runs it at its time.
    queued = Schedule.objects.get(name=f"flags.schedule:{row['id']}")
    assert queued.func == "flags.tasks.apply_schedule" and queued.schedule_type == Schedule.ONCE

    assert tasks.apply_schedule(row["id"])["state"] is None  # not due yet
    due_now(row["id"])
    assert tasks.apply_schedule(row["id"])["state"] == "applied"
    assert tasks.apply_schedule(row["id"])["state"] is None  # never twice
    assert scheduling.apply_due() == {"applied": 0, "failed": 0, "skipped": 0}

    assert flags.evaluate(flag).value is True
    change = FlagChange.objects.get(key=flag, field="value")
    assert (change.actor, change.source) == (f"schedule:{row['id']}", "schedule")
    listed = api.get(f"/api/flags/schedule?key={flag}&state=applied").json()
    assert listed["count"] == 1
    applied = listed["schedules"][0]
    assert applied["state"] == "applied" and applied["applied_at"] and applied["error"] == ""
    assert set(applied) == {
        "id",
        "key",
        "at",
        "change",
        "note",
        "state",
        "created_by",
        "created_at",
        "applied_at",
        "error",
    }
    assert not Schedule.objects.filter(name=f"flags.schedule:{row['id']}").exists()


def test_the_schema_documents_the_id_of_a_new_schedule(api):
    schema = api.get("/api/schema/?format=json").json()
    post = schema["paths"]["/api/flags/schedule"]["post"]
    ref = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    created = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(created["properties"]) == {"ok", "id", "schedule"}
    assert set(created["required"]) == {"ok", "id", "schedule"}
    assert created["properties"]["id"]["type"] == "integer"
    # Cancelling answers the row alone, as before.
    cancel = schema["paths"]["/api/flags/schedule/{schedule_id}/cancel"]["post"]
    ref = cancel["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]) == {
        "ok",
        "schedule",
    }


def test_the_sweep_applies_what_is_due(flag):
    row = scheduling.schedule_create(
        key=flag,
        at=timezone.now() + dt.timedelta(seconds=30),
        change={"enabled": False},
        actor="cli",
    )
    due_now(row["id"])
    result = tasks.apply_due()
    assert result["applied"] == 1
    assert Flag.objects.get(key=flag).enabled is False


def test_a_change_that_no_longer_fits_fails_and_changes_nothing(flag):
    row = scheduling.schedule_create(
        key=flag, at=timezone.now() + dt.timedelta(hours=1), change={"value": True}, actor="cli"
    )
    services.flag_set(key=flag, actor="cli", value="text", retype=True)
    due_now(row["id"])
    before = FlagChange.objects.count()
    assert scheduling.schedule_apply(schedule_id=row["id"]) == "failed"
    failed = FlagSchedule.objects.get(pk=row["id"])
    assert failed.state == "failed" and "string" in failed.error
    assert FlagChange.objects.count() == before and Flag.objects.get(key=flag).value == "text"


def test_cancel(api, flag):
    row = api.post(
        "/api/flags/schedule",
        {"key": flag, "at": iso(600), "change": {"value": True}},
        format="json",
    ).json()["schedule"]
    cancelled = api.post(f"/api/flags/schedule/{row['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["schedule"]["state"] == "cancelled"
    again = api.post(f"/api/flags/schedule/{row['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "schedule_not_pending"
    assert api.post("/api/flags/schedule/999999/cancel").status_code == 404
    due_now(row["id"])
    assert scheduling.schedule_apply(schedule_id=row["id"]) is None
    assert Flag.objects.get(key=flag).value is False


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"at": iso(-120), "change": {"value": True}}, 400),  # past, beyond 60 s
        ({"at": iso(400 * 86400), "change": {"value": True}}, 400),  # more than a year
        ({"at": "2030-01-01T09:00:00", "change": {"value": True}}, 400),  # no zone
        ({"at": iso(600), "change": {"value": "on"}}, 400),  # wrong type
        ({"at": iso(600), "change": {}}, 400),
        ({"at": iso(600), "change": {"description": "x"}}, 400),
        ({"at": iso(600), "change": {"value": True}, "extra": 1}, 400),
        ({"at": iso(600), "change": {"value": True}, "key": "no.such.flag"}, 404),
        ({"at": iso(600), "change": {"rules": [{"conditions": [], "value": True}]}}, 400),
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_stored(api, flag, body, status):
    response = api.post("/api/flags/schedule", {"key": flag, **body}, format="json")
    assert response.status_code == status, response.content
    assert response.json()["ok"] is False
    assert not FlagSchedule.objects.exists() and not Schedule.objects.exists()


def test_an_archived_flag_cannot_be_scheduled(api, flag):
    services.flag_set(key=flag, actor="cli", archived=True)
    response = api.post(
        "/api/flags/schedule",
        {"key": flag, "at": iso(60), "change": {"value": True}},
        format="json",
    )
    assert response.status_code == 409 and response.json()["error"] == "flag_archived"


def test_list_filters_and_bad_queries(api, flag):
    scheduling.schedule_create(
        key=flag, at=timezone.now() + dt.timedelta(hours=1), change={"value": True}, actor="cli"
    )
    assert api.get("/api/flags/schedule?state=pending").json()["count"] == 1
    assert api.get("/api/flags/schedule?state=failed").json()["count"] == 0
    assert api.get("/api/flags/schedule?state=nope").status_code == 400
    assert api.get("/api/flags/schedule?key=no.such").status_code == 404
