"""Admin: list with last change, one-click flip, history with revert, edits via services."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from flags.models import Flag, FlagChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, seeded):
    user = User.objects.create_superuser("alice", "alice@example.com", "pw-0123456789")
    client.force_login(user)
    return client


def test_changelist_shows_value_type_targeting_and_last_change(admin_client):
    from flags import services

    services.flag_set(
        key="ui.new_dashboard", actor="api:k_1", rollout={"percentage": 20, "value": True}
    )
    page = admin_client.get(reverse("admin:flags_flag_changelist")).content.decode()
    assert "payments.live" in page and "boolean" in page
    assert "rollout 20%" in page and "api:k_1" in page
    assert "Turn off" in page and "Turn on" in page
    assert (
        reverse("admin:flags_flag_toggle", args=[Flag.objects.get(key="payments.live").pk]) in page
    )


def test_one_click_flip_records_the_admin_user(admin_client):
    flag = Flag.objects.get(key="payments.live")
    url = reverse("admin:flags_flag_toggle", args=[flag.pk])
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.value is False and flag.updated_by == "admin:alice"
    row = FlagChange.objects.first()
    assert (row.field, row.old, row.new, row.actor, row.source) == (
        "value",
        True,
        False,
        "admin:alice",
        "admin",
    )


def test_flag_page_shows_history_and_revert_restores(admin_client):
    flag = Flag.objects.get(key="payments.live")
    admin_client.post(reverse("admin:flags_flag_toggle", args=[flag.pk]))
    change = FlagChange.objects.first()
    page = admin_client.get(reverse("admin:flags_flag_change", args=[flag.pk])).content.decode()
    assert "istory (newest first)" in page
    revert_url = reverse("admin:flags_flagchange_revert", args=[change.pk])
    assert revert_url in page and "created" in page
    # The revert link asks first, showing the change it undoes (old -> new).
    confirm = admin_client.get(revert_url).content.decode()
    assert "Revert change" in confirm and "true" in confirm and "false" in confirm
    assert Flag.objects.get(pk=flag.pk).value is False  # nothing done yet
    admin_client.post(revert_url, {"confirm": "yes"})
    flag.refresh_from_db()
    assert flag.value is True
    newest = FlagChange.objects.first()
    assert (newest.revert_of_id, newest.actor) == (change.pk, "admin:alice")


def test_edit_form_goes_through_the_service(admin_client):
    flag = Flag.objects.get(key="ab.pricing_v2")
    url = reverse("admin:flags_flag_change", args=[flag.pk])
    form = {
        "type": "boolean",
        "value": "false",
        "description": "Pricing",
        "rules": "[]",
        "rollout": '{"percentage": 150, "value": true}',
        "enabled": "on",
    }
    bad = admin_client.post(url, form)
    assert bad.status_code == 200 and "percentage" in bad.content.decode()
    assert FlagChange.objects.filter(key="ab.pricing_v2").count() == 1

    form["rollout"] = '{"percentage": 15, "value": true}'
    assert admin_client.post(url, form).status_code == 302
    fields = list(
        FlagChange.objects.filter(key="ab.pricing_v2").order_by("id").values_list("field", "actor")
    )
    assert fields[1:] == [("rollout", "admin:alice"), ("description", "admin:alice")]


def test_add_form_creates_with_history(admin_client):
    response = admin_client.post(
        reverse("admin:flags_flag_add"),
        {
            "key": "ui.banner",
            "type": "string",
            "value": '"hi"',
            "rules": "[]",
            "rollout": "null",
            "enabled": "on",
            "description": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    row = FlagChange.objects.get(key="ui.banner")
    assert (row.field, row.actor) == ("created", "admin:alice")


def test_history_changelist_and_revert_action(admin_client):
    flag = Flag.objects.get(key="payments.live")
    admin_client.post(reverse("admin:flags_flag_toggle", args=[flag.pk]))
    change = FlagChange.objects.first()
    changelist = reverse("admin:flags_flagchange_changelist")
    page = admin_client.get(changelist + "?key=payments.live")
    assert page.status_code == 200 and "admin:alice" in page.content.decode()
    # One row selected: the action asks first, on that change's own revert page.
    asked = admin_client.post(
        changelist, {"action": "revert_selected", "_selected_action": [change.pk]}
    )
    revert_url = reverse("admin:flags_flagchange_revert", args=[change.pk])
    assert (asked.status_code, asked["Location"]) == (302, revert_url)
    flag.refresh_from_db()
    assert flag.value is False  # nothing reverted before the confirmation
    assert FlagChange.objects.filter(key="payments.live").count() == 2
    admin_client.post(revert_url, {"confirm": "yes"})
    flag.refresh_from_db()
    assert flag.value is True
    assert FlagChange.objects.first().revert_of_id == change.pk


def test_reverting_several_changes_asks_on_a_page_listing_each(admin_client):
    from flags import services

    services.flag_set(key="payments.live", actor="cli", value=False)
    services.flag_set(key="ui.new_dashboard", actor="cli", description="Dashboard v2")
    first, second = FlagChange.objects.order_by("-id")[:2]
    before = FlagChange.objects.count()
    changelist = reverse("admin:flags_flagchange_changelist")
    selected = {"action": "revert_selected", "_selected_action": [first.pk, second.pk]}
    page = admin_client.post(changelist, selected)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Revert 2 changes?" in body and "Yes, revert these 2 changes" in body
    # Each change's old -> new, and the form posts the same action back with confirm.
    assert "payments.live" in body and "ui.new_dashboard" in body and "Dashboard v2" in body
    assert f'name="_selected_action" value="{first.pk}"' in body
    assert 'name="confirm" value="yes"' in body
    assert FlagChange.objects.count() == before  # nothing reverted yet
    assert Flag.objects.get(key="payments.live").value is False

    done = admin_client.post(changelist, {**selected, "confirm": "yes"}, follow=True)
    assert "Reverted change" in done.content.decode()
    assert Flag.objects.get(key="payments.live").value is True
    assert Flag.objects.get(key="ui.new_dashboard").description != "Dashboard v2"
    reverts = set(
        FlagChange.objects.filter(revert_of__isnull=False).values_list("revert_of_id", "actor")
    )
    assert reverts == {(first.pk, "admin:alice"), (second.pk, "admin:alice")}


def test_reverting_too_many_changes_at_once_is_refused(admin_client, monkeypatch):
    from flags import admin as flags_admin

    monkeypatch.setattr(flags_admin, "REVERT_SELECTED_MAX", 1)
    ids = list(FlagChange.objects.values_list("id", flat=True)[:2])
    before = FlagChange.objects.count()
    response = admin_client.post(
        reverse("admin:flags_flagchange_changelist"),
        {"action": "revert_selected", "_selected_action": ids, "confirm": "yes"},
        follow=True,
    )
    assert "Select at most 1 changes to revert at once." in response.content.decode()
    assert FlagChange.objects.count() == before


def test_the_history_button_shows_the_flags_own_changes(admin_client):
    from flags import services

    flag = Flag.objects.get(key="payments.live")
    services.flag_set(key="payments.live", actor="api:ops", description="Payments switch")
    services.flag_set(key="ui.new_dashboard", actor="api:other", description="Not this one")
    response = admin_client.get(reverse("admin:flags_flag_history", args=[flag.pk]), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Payments switch" in page and "api:ops" in page
    assert "Not this one" not in page and "api:other" not in page
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == set(FlagChange.objects.filter(key="payments.live").values_list("id", flat=True))


@pytest.fixture
def viewer_client(client, seeded):
    """A staff user who may only view flags and their history."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("vera", "vera@example.com", "pw-0123456789", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_flag", "view_flagchange"])
    )
    client.force_login(user)
    return client


def test_a_view_only_user_can_neither_flip_nor_run_actions(viewer_client):
    flag = Flag.objects.get(key="payments.live")
    changelist = reverse("admin:flags_flag_changelist")
    page = viewer_client.get(changelist)
    assert page.status_code == 200 and "payments.live" in page.content.decode()
    assert "archive_selected" not in page.content.decode()
    assert "Turn off" not in page.content.decode()
    history = viewer_client.get(reverse("admin:flags_flagchange_changelist"))
    assert history.status_code == 200 and "payments.live" in history.content.decode()
    assert "Undo change" not in history.content.decode()
    for action in ("archive_selected", "disable_selected"):
        viewer_client.post(changelist, {"action": action, "_selected_action": [flag.pk]})
    assert viewer_client.post(reverse("admin:flags_flag_toggle", args=[flag.pk])).status_code == 403
    change = FlagChange.objects.first()
    revert = reverse("admin:flags_flagchange_revert", args=[change.pk])
    assert viewer_client.post(revert).status_code == 403
    flag.refresh_from_db()
    assert (flag.value, flag.enabled, flag.archived) == (True, True, False)
    assert FlagChange.objects.filter(key="payments.live").count() == 1


def test_bulk_actions_change_flags_for_a_user_who_may(admin_client):
    flags = Flag.objects.filter(key__in=["payments.live", "ui.new_dashboard"])
    response = admin_client.post(
        reverse("admin:flags_flag_changelist"),
        {"action": "disable_selected", "_selected_action": [f.pk for f in flags]},
        follow=True,
    )
    assert "2 flag(s) changed." in response.content.decode()
    assert set(flags.values_list("enabled", flat=True)) == {False}


def test_a_revert_that_fails_is_an_error_message_not_a_crash(admin_client):
    revert = reverse("admin:flags_flagchange_revert", args=[999999])
    response = admin_client.post(revert, {"confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert "No history row 999999." in response.content.decode()


def test_the_form_refuses_a_description_past_the_limit(admin_client):
    from flags.limits import DESCRIPTION_MAX

    flag = Flag.objects.get(key="ab.pricing_v2")
    form = {
        "type": "boolean",
        "value": "false",
        "description": "d" * (DESCRIPTION_MAX + 1),
        "rules": "[]",
        "rollout": "null",
        "enabled": "on",
    }
    response = admin_client.post(reverse("admin:flags_flag_change", args=[flag.pk]), form)
    assert response.status_code == 200
    assert f"at most {DESCRIPTION_MAX} characters" in response.content.decode()
    assert FlagChange.objects.filter(key="ab.pricing_v2").count() == 1
