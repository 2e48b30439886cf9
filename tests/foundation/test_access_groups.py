"""The console groups: made by migrate, exact permission sets, re-synced idempotently."""

from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from echopilot.access.groups import EDITOR_PERMISSIONS, EDITORS, VIEWERS, sync_groups


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
    assert not any(p.startswith(("auth.", "django_q.", "admin.")) for p in perms)


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
    user = User.objects.create_user("v", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWERS))
    user = User.objects.get(pk=user.pk)
    assert user.has_perm("flags.view_flag")
    assert not user.has_perm("flags.change_flag")


def test_groups_come_back_after_a_flush(transactional_db):
    Group.objects.all().delete()
    call_command("flush", interactive=False, verbosity=0)
    assert codenames(EDITORS) >= {"flags.change_flag", "flags.view_flag"}
