"""An incident's timeline entries that its own fields cannot keep (they are overwritten)."""

import datetime as dt

from incidents.models import Incident, IncidentEvent


def record(incident: Incident, kind: str, text: str, *, at: dt.datetime, actor: str = "") -> None:
    IncidentEvent.objects.create(
        incident=incident, kind=kind, text=text[:500], at=at, actor=actor[:100]
    )
