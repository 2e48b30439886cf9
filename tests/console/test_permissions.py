"""A view-only staff user can change nothing through the support, costs or core admin.

Every action and custom button is POSTed as an "Ops viewers" member: each is
refused (403, or the action is not offered) and nothing changes, not even a
log entry or a mirror line.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory

from costs.models import BandwidthCounter, CostReport
from echopilot.models import ApiKey
from support.models import Digest, Message
from support.services import run_digest
from tests.console import data

pytestmark = pytest.mark.django_db
CONSOLE_APPS = ("support", "costs", "echopilot", "flags", "experiments", "incidents", "django_q")


def console_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in CONSOLE_APPS
    ]


def snapshot() -> dict:
    return {
        "digests": list(Digest.objects.values_list("id", "ok", "count")),
        "messages": list(Message.objects.values_list("id", "subject", "urgent")),
        "reports": list(CostReport.objects.values_list("id", "total_monthly_usd")),
        "bandwidth": list(BandwidthCounter.objects.values_list("id", "bytes")),
        "keys": list(ApiKey.objects.values_list("id", "revoked_at")),
        "log": LogEntry.objects.count(),
    }


@pytest.fixture
def world(db):
    from echopilot import access

    run_digest(actor="cli", dry_run=True)
    data.digests(1)
    data.cost_reports(3)
    BandwidthCounter.objects.create(day="2026-11-26", bytes=10, responses=1)
    access.apikey_create(name="app", scopes=["read"], actor="cli")
    return snapshot()


def test_every_action_declares_a_permission_the_viewer_lacks(viewer):
    request = RequestFactory().get("/admin/")
    request.user = viewer
    for model, model_admin in console_admins():
        assert not model_admin.get_actions(request), f"{model.__name__} offers actions"
        for action in model_admin.actions or []:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            assert getattr(func, "allowed_permissions", ()), f"{model.__name__}.{action}"


def test_the_viewer_sees_no_button(viewer_client, world):
    for url in ("/admin/support/digest/", "/admin/costs/costreport/", "/admin/"):
        page = viewer_client.get(url).content.decode()
        assert "Run digest now</button>" not in page and "Generate a report now" not in page
        assert 'name="action"' not in page, url


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/admin/support/digest/run/", {}),
        ("/admin/support/digest/run/", {"dry_run": "1"}),
        ("/admin/costs/costreport/generate/", {}),
    ],
)
def test_custom_buttons_are_refused_on_post(viewer_client, world, log_dir, url, body):
    response = viewer_client.post(url, body)
    assert response.status_code == 403
    assert snapshot() == world
    assert (
        not (log_dir / "support_digest.ndjson").exists()
        or "admin:viewer" not in (log_dir / "support_digest.ndjson").read_text()
    )


def test_bulk_actions_are_refused_on_post(viewer_client, world):
    targets = {
        "/admin/support/digest/": Digest.objects.values_list("id", flat=True),
        "/admin/support/message/": Message.objects.values_list("id", flat=True),
        "/admin/costs/costreport/": CostReport.objects.values_list("id", flat=True),
        "/admin/costs/bandwidthcounter/": BandwidthCounter.objects.values_list("id", flat=True),
    }
    for url, ids in targets.items():
        for action in ("delete_selected", "rotate_key", "revoke_keys"):
            response = viewer_client.post(
                url, {"action": action, "_selected_action": list(ids), "post": "yes"}
            )
            assert response.status_code in (302, 200, 403), (url, action)
    for action in ("rotate_key", "revoke_keys"):
        response = viewer_client.post(
            "/admin/echopilot/apikey/",
            {
                "action": action,
                "_selected_action": list(ApiKey.objects.values_list("id", flat=True)),
                "confirm": "yes",
            },
        )
        assert response.status_code == 403
    assert snapshot() == world


def test_add_change_and_delete_pages_are_refused(viewer_client, world):
    digest = Digest.objects.first()
    report = CostReport.objects.first()
    message = Message.objects.first()
    for url in (
        "/admin/support/digest/add/",
        f"/admin/support/digest/{digest.pk}/delete/",
        f"/admin/support/message/{message.pk}/delete/",
        "/admin/costs/costreport/add/",
        f"/admin/costs/costreport/{report.pk}/delete/",
        "/admin/echopilot/apikey/add/",
    ):
        assert viewer_client.post(url, {"post": "yes"}).status_code == 403, url
    response = viewer_client.post(
        f"/admin/support/message/{message.pk}/change/", {"subject": "changed", "urgent": "on"}
    )
    assert response.status_code == 403
    assert snapshot() == world


def test_the_editor_may_press_both_buttons(editor_client, world):
    assert editor_client.post("/admin/support/digest/run/", {"dry_run": "1"}).status_code == 302
    assert editor_client.post("/admin/costs/costreport/generate/").status_code == 302
    assert Digest.objects.filter(actor="admin:editor").count() == 1
    assert CostReport.objects.filter(actor="admin:editor").count() == 1
