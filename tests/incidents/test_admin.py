"""Admin: incident list with filters, alerts inline, acknowledge/resolve actions, silences."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from incidents import selectors, services
from incidents.models import Incident, IncidentEvent, IncidentNote, Silence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


@pytest.fixture
def incident_id(signals):
    signals.slo()
    signals.payout()
    return services.scan(actor="cli")["incident_id"]


def test_changelist_filters_and_detail(admin_client, incident_id):
    page = admin_client.get("/admin/incidents/incident/?status__exact=open&severity__exact=MEDIUM")
    assert page.status_code == 200
    assert f"/admin/incidents/incident/{incident_id}/change/" in page.content.decode()
    empty = admin_client.get("/admin/incidents/incident/?status__exact=resolved")
    assert f"/admin/incidents/incident/{incident_id}/change/" not in empty.content.decode()
    detail = admin_client.get(f"/admin/incidents/incident/{incident_id}/change/").content.decode()
    assert "• SLO breach: P95=1500ms, Success=0.96" in detail
    assert "Opened" in detail and "Dry-run (not sent)" in detail  # the alert inline


def test_actions_acknowledge_and_resolve_record_the_admin(admin_client, admin_user, incident_id):
    url = "/admin/incidents/incident/"
    admin_client.post(url, {"action": "acknowledge", "_selected_action": [incident_id]})
    incident = Incident.objects.get()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by == f"admin:{admin_user.username}"
    admin_client.post(url, {"action": "resolve", "_selected_action": [incident_id]})
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_by == f"admin:{admin_user.username}"
    # acknowledging a resolved incident is refused with a message, not an error page
    page = admin_client.post(
        url, {"action": "acknowledge", "_selected_action": [incident_id]}, follow=True
    )
    assert f"Incident {incident_id} is already resolved." in page.content.decode()
    assert "Acknowledged 0 incident(s)." in page.content.decode()


def test_add_silence_through_the_admin(admin_client, admin_user, clock):
    response = admin_client.post(
        "/admin/incidents/silence/add/",
        {"key": "ops:high_cpu", "until_0": "2026-01-05", "until_1": "13:00:00", "reason": "x"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    silence = Silence.objects.get()
    assert silence.created_by == f"admin:{admin_user.username}"
    bad = admin_client.post(
        "/admin/incidents/silence/add/",
        {"key": "bogus", "until_0": "2026-01-05", "until_1": "13:00:00", "reason": ""},
    )
    assert bad.status_code == 200 and Silence.objects.count() == 1


def test_admin_silence_too_far_ahead_is_a_form_error(admin_client, clock):
    response = admin_client.post(
        "/admin/incidents/silence/add/",
        {"key": "slo", "until_0": "2037-01-05", "until_1": "13:00:00", "reason": ""},
    )
    assert response.status_code == 200
    assert "at most 3650 days ahead" in response.content.decode()
    assert response.context["adminform"].form.errors == {
        "until": ["'until' must be at most 3650 days ahead."]
    }
    assert not Silence.objects.exists()


def test_incidents_and_received_alerts_are_read_only_in_the_admin(admin_client, incident_id):
    assert admin_client.get("/admin/incidents/incident/add/").status_code == 403
    assert admin_client.get("/admin/incidents/receivedalert/add/").status_code == 403
    page = admin_client.post(f"/admin/incidents/incident/{incident_id}/delete/", {"post": "yes"})
    assert page.status_code == 403 and Incident.objects.filter(pk=incident_id).exists()


def test_end_silences_action(admin_client, admin_user, clock, log_dir):
    silence = Silence.objects.create(
        key="slo", until=clock.advance(hours=1), created_at=clock(), created_by="cli"
    )
    clock.advance(minutes=-30)
    page = admin_client.post(
        "/admin/incidents/silence/",
        {"action": "expire", "_selected_action": [silence.pk]},
        follow=True,
    )
    assert "Ended 1 silence(s)." in page.content.decode()
    silence.refresh_from_db()
    assert silence.until == clock()


def test_list_shows_issues_as_text_severity_in_colour_and_the_active_one_first(
    admin_client, incident_id, clock, signals
):
    resolved = Incident.objects.create(
        status="resolved",
        active=False,
        severity="HIGH",
        issue_keys=["cost"],
        details=["Cost over budget: 123.45 of 100.00 USD"],
        opened_at=clock.advance(minutes=30),  # newer, but resolved
        opened_by="cli",
        last_seen_at=clock(),
        resolved_at=clock(),
        resolved_by="cli",
        resolved_how="recovered",
    )
    page = admin_client.get("/admin/incidents/incident/").content.decode()
    assert page.index(f"{incident_id}/change/") < page.index(f"{resolved.pk}/change/")
    assert '<span class="sev sev-medium">MEDIUM</span>' in page
    assert '<span class="sev sev-high">HIGH</span>' in page
    assert "SLO breach: P95=1500ms, Success=0.96; Payout issues: 2 missing, 1 mismatched" in page
    assert 'class="incident-active"' in page and "incidents/admin.css" in page
    assert "[&quot;slo&quot;" not in page and '["slo"' not in page


def test_detail_page_buttons_with_a_note_and_the_timeline(
    admin_client, admin_user, incident_id, clock
):
    url = f"/admin/incidents/incident/{incident_id}/change/"
    page = admin_client.get(url).content.decode()
    ack_url = reverse("admin:incidents_incident_acknowledge", args=[incident_id])
    resolve_url = reverse("admin:incidents_incident_resolve", args=[incident_id])
    assert ack_url in page and resolve_url in page and 'id="incident-timeline"' in page
    assert "<div>slo</div>" in page and "<div>payout</div>" in page  # keys as lines
    assert admin_client.get(ack_url).status_code == 405  # POST only
    clock.advance(minutes=1)
    answer = admin_client.post(ack_url, {"note": "on it"})
    assert answer.status_code == 302 and answer["Location"] == url
    clock.advance(minutes=1)
    answer = admin_client.post(resolve_url, {"note": "fixed", "next": "https://evil.example/"})
    assert answer["Location"] == url  # an unsafe next is ignored
    clock.advance(minutes=1)
    admin_client.post(
        reverse("admin:incidents_incident_note", args=[incident_id]), {"note": "post-mortem"}
    )
    incident = Incident.objects.get()
    assert incident.status == "resolved" and incident.resolved_how == "by_hand"
    assert incident.acknowledged_by == incident.resolved_by == f"admin:{admin_user.username}"
    page = admin_client.get(url).content.decode()
    for text in ("on it", "fixed", "post-mortem", "Acknowledged by admin:", "Resolved by admin:"):
        assert text in page, text
    assert ack_url not in page and resolve_url not in page  # nothing left to do
    timeline = [e["kind"] for e in selectors.timeline(incident)]
    assert timeline == [
        "opened",
        "alert",
        "acknowledged",
        "note",
        "resolved",
        "alert",
        "note",
        "note",
    ]


@pytest.fixture
def viewer(client, django_user_model):
    """A staff user who may only view incidents and silences."""
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    codenames = ["view_incident", "view_silence", "view_alert", "view_receivedalert"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def snapshot():
    return (
        list(Incident.objects.values()),
        list(Silence.objects.values()),
        list(IncidentNote.objects.values()),
        list(IncidentEvent.objects.values()),
    )


def test_a_view_only_user_can_change_nothing(viewer, incident_id, clock):
    services.create_silence(key="slo", until=clock() + dt.timedelta(hours=1), actor="cli")
    silence = Silence.objects.get()
    before = snapshot()
    page = viewer.get(f"/admin/incidents/incident/{incident_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Acknowledge"' not in html and 'value="Resolve"' not in html
    assert "Add note" not in html and 'id="incident-timeline"' in html
    for name in ("acknowledge", "resolve", "note"):
        url = reverse(f"admin:incidents_incident_{name}", args=[incident_id])
        assert viewer.post(url, {"note": "x"}).status_code == 403, name
    for action in ("acknowledge", "resolve"):
        answer = viewer.post(
            "/admin/incidents/incident/", {"action": action, "_selected_action": [incident_id]}
        )
        assert answer.status_code in (200, 302, 403)
    for action in ("expire", "delete_selected"):
        viewer.post(
            "/admin/incidents/silence/", {"action": action, "_selected_action": [silence.pk]}
        )
    assert (
        viewer.post(f"/admin/incidents/silence/{silence.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert (
        viewer.post(
            "/admin/incidents/silence/add/",
            {"key": "payout", "until_0": "2026-01-05", "until_1": "13:00:00", "reason": ""},
        ).status_code
        == 403
    )
    assert snapshot() == before


def test_silences_are_never_deleted_even_by_a_superuser(admin_client, clock):
    services.create_silence(key="slo", until=clock() + dt.timedelta(hours=1), actor="cli")
    silence = Silence.objects.get()
    admin_client.post(f"/admin/incidents/silence/{silence.pk}/delete/", {"post": "yes"})
    admin_client.post(
        "/admin/incidents/silence/", {"action": "delete_selected", "_selected_action": [silence.pk]}
    )
    assert Silence.objects.filter(pk=silence.pk).exists()
