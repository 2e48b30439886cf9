"""The console groups: made by migrate, exact permission sets, re-synced idempotently."""

import uuid

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Task

from echopilot.access.groups import EDITOR_PERMISSIONS, EDITORS, VIEWERS, sync_groups
from tests.conftest import TEST_KEY, client_for, staff


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{code}"
        for app, code in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_viewers_hold_every_view_permission_of_the_project_and_nothing_else(db):
    perms = codenames(VIEWERS)
    assert {"flags.view_flag", "incidents.view_incident", "support.view_digest"} <= perms
    assert {"costs.view_costreport", "experiments.view_experiment"} <= perms
    assert all(p.split(".")[1].startswith("view_") for p in perms)
    assert not any(p.startswith(("auth.", "admin.")) for p in perms)


def test_viewers_and_editors_may_view_django_q_and_nothing_more(db):
    task_pages = {
        "django_q.view_schedule",
        "django_q.view_success",
        "django_q.view_failure",
        "django_q.view_ormq",
    }
    for group in (VIEWERS, EDITORS):
        django_q = {p for p in codenames(group) if p.startswith("django_q.")}
        assert task_pages <= django_q, group
        assert all(p.startswith("django_q.view_") for p in django_q), group


def test_editors_hold_the_viewers_permissions_plus_the_existing_editor_codenames(db):
    perms = codenames(EDITORS)
    assert codenames(VIEWERS) <= perms
    assert "flags.change_flag" in perms
    extra = perms - codenames(VIEWERS)
    existing = {
        f"{app}.{code}"
        for app, code in Permission.objects.values_list("content_type__app_label", "codename")
    }
    assert extra == set(EDITOR_PERMISSIONS) & existing
    console_deletes = ("flagschedule", "segment")  # through their services (in-use checks)
    assert not any(".delete_" in p and not p.endswith(console_deletes) for p in perms)


def test_sync_restores_a_permission_removed_and_drops_one_added_by_hand(db):
    viewers = Group.objects.get(name=VIEWERS)
    flag_view = Permission.objects.get(codename="view_flag")
    user_add = Permission.objects.get(codename="add_user")
    viewers.permissions.remove(flag_view)
    viewers.permissions.add(user_add)
    sync_groups()
    assert "flags.view_flag" in codenames(VIEWERS)
    assert "auth.add_user" not in codenames(VIEWERS)
    assert Group.objects.filter(name__in=[VIEWERS, EDITORS]).count() == 2


def test_a_viewer_may_view_but_not_change_a_flag(db):
    user = staff("v", VIEWERS)
    user = User.objects.get(pk=user.pk)  # a fresh instance: no cached permissions
    assert user.has_perm("flags.view_flag")
    assert not user.has_perm("flags.change_flag")


def test_groups_come_back_after_a_flush(transactional_db):
    Group.objects.all().delete()
    call_command("flush", interactive=False, verbosity=0)
    assert codenames(EDITORS) >= {"flags.change_flag", "flags.view_flag"}


def test_a_viewer_opens_failed_tasks_but_cannot_rerun_them_or_schedule_work(db):
    """The Scheduler card's links open for a viewer; re-running and scheduling do not."""
    from echopilot import schedules

    schedules.sync()
    client = client_for(staff("v", VIEWERS))
    now = timezone.now()
    failed = Task.objects.create(
        id=uuid.uuid4().hex,
        name="failed-scan",
        func="incidents.tasks.scan",  # a registered schedule: re-runnable by those allowed
        started=now,
        stopped=now,
        success=False,
        result="ValueError: boom",
    )
    overview = client.get("/admin/").content.decode()
    link = f"/admin/django_q/failure/{failed.pk}/change/"
    assert f'href="{link}"' in overview
    page = client.get(link)
    assert page.status_code == 200 and "ValueError: boom" in page.content.decode()
    listing = client.get("/admin/django_q/failure/")
    assert listing.status_code == 200 and 'name="action"' not in listing.content.decode()
    # A secret a task's error happened to carry is masked on the list and the page.
    Task.objects.filter(pk=failed.pk).update(
        result=f"ValueError: login failed for token {TEST_KEY}\nTraceback ..."
    )
    for url in (link, "/admin/django_q/failure/"):
        body = client.get(url).content.decode()
        assert "ValueError: login failed for token ***" in body and TEST_KEY not in body
    assert client.get("/admin/django_q/schedule/").status_code == 200

    before = list(Schedule.objects.values_list("id", "func", "next_run"))
    client.post(
        "/admin/django_q/failure/",
        {"action": "resubmit_failure", ACTION_CHECKBOX_NAME: [failed.pk], "index": 0},
    )
    assert Failure.objects.filter(pk=failed.pk).exists() and not OrmQ.objects.exists()
    assert client.post("/admin/django_q/schedule/add/", {"name": "x"}).status_code == 403
    schedule = Schedule.objects.first()
    change = f"/admin/django_q/schedule/{schedule.pk}/change/"
    assert client.post(change, {"name": "changed"}).status_code == 403
    assert (
        client.post(f"/admin/django_q/failure/{failed.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert list(Schedule.objects.values_list("id", "func", "next_run")) == before
    assert Failure.objects.filter(pk=failed.pk).exists()
