"""Admin: incident list with filters, alerts inline, acknowledge/resolve actions, silences."""

import pytest

from incidents import services
from incidents.models import Incident, Silence

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
