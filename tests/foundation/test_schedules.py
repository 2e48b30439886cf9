"""The schedule registry and `setup_schedules`."""

import pytest
from django.core.management import call_command
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
