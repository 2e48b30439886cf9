"""Incident dates in the console use the one format: `2026-11-27 03:52 UTC`."""

import datetime as dt
import re

import pytest

from incidents import services
from incidents.models import Incident, IncidentEvent, Silence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z")


def test_the_silence_line_on_the_timeline_uses_it(admin_client, signals, clock):
    services.create_silence(
        key="payout", until=clock() + dt.timedelta(hours=2, seconds=30), reason="", actor="cli"
    )
    signals.slo()
    signals.payout()
    incident_id = services.scan(actor="cli")["incident_id"]
    event = IncidentEvent.objects.get(incident_id=incident_id, kind="silenced")
    assert event.text == "payout silenced by cli until 2026-01-05 14:00 UTC."
    page = admin_client.get(f"/admin/incidents/incident/{incident_id}/change/").content.decode()
    assert "payout silenced by cli until 2026-01-05 14:00 UTC." in page
    timeline = page[page.index('id="incident-timeline"') :]
    assert not ISO.search(timeline), ISO.search(timeline)


def test_silence_and_event_names_use_it(signals, clock):
    silence = Silence(
        key="slo",
        until=dt.datetime(2026, 11, 27, 3, 52, 10, tzinfo=dt.UTC),
        created_at=clock(),
        created_by="cli",
    )
    assert str(silence) == "Silence slo until 2026-11-27 03:52 UTC"
    # An aware time in another zone is shown in UTC, never relabelled.
    east = dt.timezone(dt.timedelta(hours=5))
    event = IncidentEvent(kind="note", at=dt.datetime(2026, 11, 27, 8, 52, tzinfo=east))
    assert str(event) == "note at 2026-11-27 03:52 UTC"


def test_the_incident_list_uses_it(admin_client, signals):
    signals.slo()
    services.scan(actor="cli")
    Incident.objects.update(opened_at=dt.datetime(2026, 11, 27, 3, 52, 10, tzinfo=dt.UTC))
    page = admin_client.get("/admin/incidents/incident/").content.decode()
    assert "2026-11-27 03:52 UTC" in page
