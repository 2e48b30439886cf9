"""`manage.py flags schedule|schedules|cancel`."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from flags import services
from flags.models import FlagSchedule

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("flags", *args, stdout=out)
    return out.getvalue()


def test_schedule_list_and_cancel():
    services.flag_set(key="ui.x", actor="cli", create=True, value=False)
    at = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    out = run("schedule", "ui.x", at, "--value", "true", "--note", "launch")
    schedule = FlagSchedule.objects.get()
    assert out.startswith(f"scheduled change {schedule.pk}: ui.x")
    assert (schedule.change, schedule.created_by, schedule.note) == (
        {"value": True},
        "cli",
        "launch",
    )
    listed = [json.loads(line) for line in run("schedules", "--json").splitlines()]
    assert [(r["id"], r["state"]) for r in listed] == [(schedule.pk, "pending")]
    assert "cancelled change" in run("cancel", str(schedule.pk))
    with pytest.raises(CommandError, match="cancelled"):
        run("cancel", str(schedule.pk))
    assert run("schedules", "--state", "pending") == ""


@pytest.mark.parametrize(
    "args",
    [
        ("schedule", "ui.x", "tomorrow", "--value", "true"),
        ("schedule", "ui.x", "2020-01-01T00:00:00Z", "--value", "true"),
        ("schedule", "ui.x", "2099-01-01T00:00:00Z"),
        ("stale", "--unused-days", "0"),
    ],
)
def test_bad_input_exits_2(args):
    services.flag_set(key="ui.x", actor="cli", create=True, value=False)
    with pytest.raises(CommandError) as info:
        run(*args)
    assert info.value.returncode == 2
    assert not FlagSchedule.objects.exists()
