"""The daily schedule and its task."""

import pytest

from costs.models import CostReport
from echopilot import schedules


def test_django_q_keeps_every_successful_task(settings):
    """The compute cost is measured from task records: Django-Q2 must drop none."""
    from django_q.conf import Conf

    assert settings.Q_CLUSTER["save_limit"] == 0
    assert Conf.SAVE_LIMIT == 0


def test_daily_report_is_registered_on_the_cron_line():
    import costs.tasks  # noqa: F401 - registers at import

    entry = schedules.REGISTRY["costs.daily_report"]
    assert entry.cron == "10 1 * * *"
    assert entry.func == "costs.tasks.daily_report"


@pytest.mark.django_db
def test_setup_schedules_creates_the_cron_schedule():
    from django_q.models import Schedule

    schedules.sync()

    schedule = Schedule.objects.get(name="costs.daily_report")
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "10 1 * * *"
    assert (schedule.next_run.hour, schedule.next_run.minute) == (1, 10)


@pytest.mark.django_db
def test_task_stores_a_report_as_schedule():
    from costs.tasks import daily_report

    result = daily_report()

    assert result["ok"] is True
    assert CostReport.objects.get(pk=result["report_id"]).actor == "schedule"
