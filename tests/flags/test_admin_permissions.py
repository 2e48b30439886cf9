"""A view-only staff user can change nothing through the flags admin; an editor can."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from flags import scheduling, segments, services
from flags.models import Flag, FlagChange, FlagSchedule, Segment
from tests import conftest as shared

pytestmark = pytest.mark.django_db

CONDITIONS = [{"attribute": "plan", "op": "eq", "value": "beta"}]


@pytest.fixture
def world(seeded):
    services.flag_set(key="payments.live", actor="cli", value=False)
    segments.segment_set(name="beta-testers", conditions=CONDITIONS, actor="cli")
    schedule = scheduling.schedule_create(
        key="payments.live",
        at=timezone.now() + dt.timedelta(hours=1),
        change={"value": True},
        actor="cli",
    )
    return {
        "flag": Flag.objects.get(key="payments.live"),
        "change": FlagChange.objects.filter(key="payments.live", field="value").first(),
        "schedule": FlagSchedule.objects.get(pk=schedule["id"]),
        "segment": Segment.objects.get(name="beta-testers"),
    }


def staff(username, *codenames):
    return shared.staff(username, perms=codenames)


def state():
    return (
        list(Flag.objects.order_by("key").values_list("key", "value", "enabled", "archived")),
        FlagChange.objects.count(),
        list(FlagSchedule.objects.values_list("id", "state")),
        list(Segment.objects.values_list("name", "conditions", "description")),
    )


def test_a_view_only_user_posts_every_action_and_button_and_nothing_changes(client, world):
    viewer = staff("vera", "view_flag", "view_flagchange", "view_flagschedule", "view_segment")
    client.force_login(viewer)
    flag, change, schedule, segment = (
        world["flag"],
        world["change"],
        world["schedule"],
        world["segment"],
    )
    before = state()
    # The pages show, without the buttons.
    page = client.get(reverse("admin:flags_flag_change", args=[flag.pk])).content.decode()
    assert "try_context" not in page and "Turn on" not in page
    refused = {
        "toggle": client.post(reverse("admin:flags_flag_toggle", args=[flag.pk])),
        "try": client.post(reverse("admin:flags_flag_try", args=[flag.pk]), {"try_context": "{}"}),
        "revert": client.post(
            reverse("admin:flags_flagchange_revert", args=[change.pk]), {"confirm": "yes"}
        ),
        "revert page": client.get(reverse("admin:flags_flagchange_revert", args=[change.pk])),
        "edit flag": client.post(
            reverse("admin:flags_flag_change", args=[flag.pk]), {"value": "on"}
        ),
        "schedule create": client.post(
            reverse("admin:flags_flagschedule_add"),
            {"flag": flag.pk, "at_0": "2030-01-01", "at_1": "09:00", "change": '{"value": true}'},
        ),
        "segment create": client.post(
            reverse("admin:flags_segment_add"),
            {"name": "x", "conditions": '[{"attribute": "a", "op": "eq", "value": 1}]'},
        ),
        "segment edit": client.post(
            reverse("admin:flags_segment_change", args=[segment.pk]),
            {"conditions": '[{"attribute": "a", "op": "eq", "value": 1}]'},
        ),
    }
    for name, response in refused.items():
        assert response.status_code == 403, (name, response.status_code)
    # Bulk actions: not offered to a viewer (Django answers with the list again).
    actions = [
        ("flags_flag", ["archive_selected", "disable_selected", "enable_selected"], flag.pk),
        ("flags_flagchange", ["revert_selected"], change.pk),
        ("flags_flagschedule", ["cancel_selected"], schedule.pk),
        ("flags_segment", ["delete_unused"], segment.pk),
    ]
    for model, names, pk in actions:
        url = reverse(f"admin:{model}_changelist")
        listing = client.get(url).content.decode()
        for action in names:
            assert f'value="{action}"' not in listing, action
            response = client.post(url, {"action": action, "_selected_action": [pk]})
            assert response.status_code in (200, 302, 403), (action, response.status_code)
    assert state() == before


def test_an_editor_tries_schedules_and_edits_segments(client, world):
    editor = staff(
        "eddie",
        "view_flag",
        "change_flag",
        "view_flagchange",
        "view_flagschedule",
        "add_flagschedule",
        "change_flagschedule",
        "view_segment",
        "add_segment",
        "change_segment",
        "delete_segment",
    )
    client.force_login(editor)
    flag = world["flag"]
    tried = client.post(
        reverse("admin:flags_flag_try", args=[flag.pk]),
        {"try_context": '{"targetingKey": "u1"}'},
        follow=True,
    ).content.decode()
    assert "value false, variant &#x27;default&#x27;, reason STATIC" in tried
    bad = client.post(
        reverse("admin:flags_flag_try", args=[flag.pk]), {"try_context": "[1"}, follow=True
    ).content.decode()
    assert "not JSON" in bad

    # Object history: the flag's own changes.
    history = client.get(reverse("admin:flags_flag_history", args=[flag.pk]))
    assert history.status_code == 302 and "key=payments.live" in history["Location"]

    client.post(
        reverse("admin:flags_flagschedule_changelist"),
        {"action": "cancel_selected", "_selected_action": [world["schedule"].pk]},
    )
    assert FlagSchedule.objects.get(pk=world["schedule"].pk).state == "cancelled"
    at = timezone.now() + dt.timedelta(days=1)
    added = client.post(
        reverse("admin:flags_flagschedule_add"),
        {
            "flag": flag.pk,
            "at_0": at.strftime("%Y-%m-%d"),
            "at_1": at.strftime("%H:%M:%S"),
            "change": '{"enabled": false}',
            "note": "night",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    created = FlagSchedule.objects.get(state="pending")
    assert (created.change, created.created_by) == ({"enabled": False}, "admin:eddie")
    wrong = client.post(
        reverse("admin:flags_flagschedule_add"),
        {
            "flag": flag.pk,
            "at_0": at.strftime("%Y-%m-%d"),
            "at_1": at.strftime("%H:%M:%S"),
            "change": '{"value": "on"}',
        },
    )
    assert wrong.status_code == 200 and "expected a boolean" in wrong.content.decode()

    edited = client.post(
        reverse("admin:flags_segment_change", args=[world["segment"].pk]),
        {"conditions": '[{"attribute": "plan", "op": "in", "value": ["beta", "pro"]}]'},
    )
    assert edited.status_code == 302
    row = FlagChange.objects.filter(key="segment:beta-testers").first()
    assert (row.field, row.actor) == ("conditions", "admin:eddie")
    refused = client.post(
        reverse("admin:flags_segment_change", args=[world["segment"].pk]),
        {"conditions": '[{"attribute": "plan", "op": "like", "value": "x"}]'},
    )
    assert refused.status_code == 200 and "unknown operator" in refused.content.decode()


def test_the_value_control_fits_the_type(client, world):
    admin = User.objects.create_superuser("root", "r@example.com", "pw-0123456789")
    client.force_login(admin)
    services.flag_set(key="ui.layout", actor="cli", create=True, value={"columns": 2})
    services.flag_set(key="limits.max", actor="cli", create=True, value=5)
    pages = {
        key: client.get(
            reverse("admin:flags_flag_change", args=[Flag.objects.get(key=key).pk])
        ).content.decode()
        for key in ("payments.live", "ui.layout", "limits.max")
    }
    assert 'type="checkbox" name="value"' in pages["payments.live"]
    assert 'type="number" name="value"' in pages["limits.max"]
    assert '<textarea name="value"' in pages["ui.layout"]
    assert "&quot;columns&quot;: 2" in pages["ui.layout"]  # pretty-printed JSON
    assert "Worked example" in pages["payments.live"]
