"""Django-Q2's admin pages: no free-text function, every action behind its permission."""

import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success, Task

from tests.conftest import client_for, staff

pytestmark = pytest.mark.django_db

SCHEDULE_ADD = reverse("admin:django_q_schedule_add")
SUCCESS_LIST = reverse("admin:django_q_success_changelist")
FAILURE_LIST = reverse("admin:django_q_failure_changelist")


def sam(*codenames: str):
    """A client logged in as staff user "sam" holding these django_q permissions."""
    return client_for(staff("sam", perms=[f"django_q.{name}" for name in codenames]))


def schedule_form(func: str, **extra) -> dict:
    return {
        "name": "mine",
        "func": func,
        "schedule_type": Schedule.MINUTES,
        "minutes": "5",
        "cron": "",
        "repeats": "-1",
        "next_run_0": "2026-01-01",
        "next_run_1": "00:00:00",
        **extra,
    }


def task(func: str, *, success: bool = True, args=None) -> Task:
    now = timezone.now()
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"task-{uuid.uuid4().hex[:6]}",
        func=func,
        args=args,
        started=now,
        stopped=now,
        success=success,
    )


def run_action(client, url: str, action: str, *tasks: Task):
    data = {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in tasks], "index": 0}
    return client.post(url, data, follow=True)


def test_staff_with_add_schedule_cannot_name_an_arbitrary_function():
    client = sam("add_schedule", "view_schedule")
    response = client.post(SCHEDULE_ADD, schedule_form("subprocess.getoutput", hook="os.system"))
    assert response.status_code == 200  # the form again, with its error
    assert "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_registered_task_can_be_scheduled_without_hook_or_arguments():
    client = sam("add_schedule", "view_schedule")
    page = client.get(SCHEDULE_ADD).content.decode()
    assert 'value="incidents.tasks.scan"' in page  # offered as a choice
    form = schedule_form("incidents.tasks.scan", hook="os.system", args="'id'", kwargs="{}")
    response = client.post(SCHEDULE_ADD, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Schedule.objects.get()
    assert saved.func == "incidents.tasks.scan"
    assert saved.hook is None and saved.args is None and saved.kwargs is None


def test_a_view_only_user_cannot_rerun_a_task():
    client = sam("view_success", "view_failure")
    done, failed = task("incidents.tasks.scan"), task("incidents.tasks.scan", success=False)
    run_action(client, SUCCESS_LIST, "resubmit_success", done)
    run_action(client, FAILURE_LIST, "resubmit_failure", failed)
    assert not OrmQ.objects.exists()
    assert Failure.objects.filter(pk=failed.pk).exists()
    page = client.get(SUCCESS_LIST).content.decode()
    assert "resubmit" not in page


def test_rerunning_needs_add_schedule_and_a_registered_function():
    client = sam("view_success", "add_schedule")
    ours, foreign = task("incidents.tasks.scan"), task("subprocess.getoutput", args=("id",))
    response = run_action(client, SUCCESS_LIST, "resubmit_success", ours, foreign)
    assert OrmQ.objects.count() == 1
    assert "not re-run" in response.content.decode()
    assert Success.objects.count() == 2


def test_rerunning_a_failure_also_needs_delete_failure():
    client = sam("view_failure", "add_schedule")
    failed = task("incidents.tasks.scan", success=False)
    run_action(client, FAILURE_LIST, "resubmit_failure", failed)
    assert not OrmQ.objects.exists() and Failure.objects.filter(pk=failed.pk).exists()
    user = User.objects.get(username="sam")
    user.user_permissions.add(Permission.objects.get(codename="delete_failure"))
    run_action(client, FAILURE_LIST, "resubmit_failure", failed)
    assert OrmQ.objects.count() == 1 and not Failure.objects.filter(pk=failed.pk).exists()


def test_queued_tasks_cannot_be_edited():
    client = sam("view_ormq", "change_ormq")
    from django_q.tasks import async_task

    async_task("incidents.tasks.scan")
    queued = OrmQ.objects.get()
    url = reverse("admin:django_q_ormq_change", args=[queued.pk])
    response = client.post(url, {"key": "other", "lock": ""})
    assert response.status_code == 403
    assert OrmQ.objects.get().key == queued.key
