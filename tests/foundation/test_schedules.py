"""The schedule registry and `setup_schedules`."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from echopilot import schedules

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(monkeypatch):
    entries = {}
    monkeypatch.setattr(schedules, "REGISTRY", entries)
    monkeypatch.setattr(schedules, "discover", lambda: dict(entries))
    return entries


def test_setup_schedules_is_idempotent(registry):
    schedules.register("demo.every5", "math.sqrt", minutes=5)
    schedules.register("demo.daily", "math.floor", cron="10 1 * * *")
    call_command("setup_schedules")
    call_command("setup_schedules")
    assert Schedule.objects.filter(name="demo.every5").count() == 1
    assert Schedule.objects.filter(name="demo.daily").count() == 1
    daily = Schedule.objects.get(name="demo.daily")
    assert daily.schedule_type == Schedule.CRON and daily.cron == "10 1 * * *"
    assert (daily.next_run.hour, daily.next_run.minute) == (1, 10)
    every5 = Schedule.objects.get(name="demo.every5")
    assert every5.schedule_type == Schedule.MINUTES and every5.minutes == 5
    assert every5.repeats == -1


def test_changed_entry_updates_the_schedule_in_place(registry):
    schedules.register("demo.job", "math.sqrt", minutes=5)
    assert schedules.sync() == [("demo.job", "created")]
    first = Schedule.objects.get(name="demo.job").pk
    schedules.register("demo.job", "math.sqrt", minutes=10)
    assert schedules.sync() == [("demo.job", "updated")]
    assert schedules.sync() == [("demo.job", "unchanged")]
    job = Schedule.objects.get(name="demo.job")
    assert (job.pk, job.minutes) == (first, 10)


def test_register_needs_exactly_one_timing(registry):
    with pytest.raises(ValueError):
        schedules.register("bad", "math.sqrt")
    with pytest.raises(ValueError):
        schedules.register("bad", "math.sqrt", minutes=5, cron="* * * * *")


def test_apps_register_through_their_tasks_modules():
    # Every registered entry must point at an importable callable.
    from django.utils.module_loading import import_string

    for entry in schedules.discover().values():
        assert callable(import_string(entry.func)), entry


def test_a_scheduled_run_is_recorded_in_the_ledger(registry):
    from echopilot.models import ScheduleRun

    schedules.register("demo.job", "math.sqrt", minutes=60)
    calls = []
    job = schedules.scheduled("demo.job")(lambda: calls.append(1) or {"ok": True, "n": 1})
    assert job() == {"ok": True, "n": 1}
    run = ScheduleRun.objects.get(name="demo.job")
    assert run.last_started_at <= run.last_finished_at and run.last_ok is True
    assert calls == [1]


def test_a_run_within_half_a_period_of_the_last_one_is_skipped(registry):
    from echopilot.models import ScheduleRun

    schedules.register("demo.job", "math.sqrt", minutes=60)
    calls = []
    job = schedules.scheduled("demo.job")(lambda: calls.append(1) or {"ok": True})
    job()
    second = job()
    assert second["ok"] is True and "already ran" in second["skipped"]
    assert calls == [1] and ScheduleRun.objects.get(name="demo.job").skipped == 1
    # Half a period later it runs again.
    ScheduleRun.objects.filter(name="demo.job").update(
        last_finished_at=timezone.now() - dt.timedelta(minutes=31)
    )
    job()
    assert calls == [1, 1]


def test_a_run_that_finds_the_lock_taken_skips(registry):
    from tests.conftest import lock_held_elsewhere

    schedules.register("demo.job", "math.sqrt", minutes=5)
    calls = []
    job = schedules.scheduled("demo.job")(lambda: calls.append(1) or {"ok": True})
    with lock_held_elsewhere("task:demo.job"):
        assert "still running" in job()["skipped"]
    assert calls == []
    job()
    assert calls == [1]


def test_a_failed_run_is_recorded_as_not_ok_and_a_crash_records_no_finish(registry):
    from echopilot.models import ScheduleRun

    schedules.register("demo.job", "math.sqrt", minutes=5)
    schedules.scheduled("demo.job")(lambda: {"ok": False})()
    assert ScheduleRun.objects.get(name="demo.job").last_ok is False

    def crash():
        raise RuntimeError("killed")

    schedules.register("demo.crash", "math.sqrt", minutes=5)
    with pytest.raises(RuntimeError):
        schedules.scheduled("demo.crash")(crash)()
    run = ScheduleRun.objects.get(name="demo.crash")
    assert run.last_started_at and run.last_finished_at is None  # a retry will run


def test_period_of_minutes_and_cron_entries():
    every = schedules.Entry("a", "f", minutes=5)
    daily = schedules.Entry("b", "f", cron="10 1 * * *")
    assert every.period() == dt.timedelta(minutes=5)
    assert daily.period(dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)) == dt.timedelta(days=1)


def test_the_core_registers_the_mirror_flush():
    assert schedules.discover()["echopilot.mirror_flush"].minutes == 1


def test_the_gap_that_makes_a_run_a_repeat():
    # Django-Q2 looks at schedules every ~30 s: runs of neighbouring periods can
    # land 30 s closer than a period apart, and must both run.
    assert schedules.min_gap_seconds(dt.timedelta(minutes=1)) == 0
    assert schedules.min_gap_seconds(dt.timedelta(minutes=5)) == 120
    assert schedules.min_gap_seconds(dt.timedelta(hours=1)) == 1770
