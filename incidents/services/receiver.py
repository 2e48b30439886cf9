"""The Prometheus Alertmanager receiver: keep firing critical alerts for the scan."""

import datetime as dt
from typing import Any

from django.db import transaction

from echopilot import mirror
from echopilot.exceptions import Invalid
from incidents import alertmanager, clock
from incidents.models import ReceivedAlert
from incidents.services.common import STREAM


def receive_alertmanager(
    *, payload: Any, actor: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Keep firing critical alerts of an Alertmanager webhook (version 4); drop resolved."""
    now = now or clock.now()
    try:
        parsed = alertmanager.parse_webhook(payload)
    except alertmanager.PayloadError as exc:
        raise Invalid(str(exc)) from None
    stored: list[str] = []
    removed: list[str] = []
    ignored = 0
    with transaction.atomic():
        for alert in parsed:
            if alert["status"] == "firing" and alert["critical"]:
                ReceivedAlert.objects.update_or_create(
                    fingerprint=alert["fingerprint"],
                    defaults={
                        "name": alert["name"],
                        "labels": alert["labels"],
                        "annotations": alert["annotations"],
                        "starts_at": alert["starts_at"],
                        "ends_at": alert["ends_at"],
                        "received_at": now,
                    },
                )
                stored.append(alert["name"])
                continue
            count, _ = ReceivedAlert.objects.filter(fingerprint=alert["fingerprint"]).delete()
            if count:
                removed.append(alert["name"])
            else:
                ignored += 1
        status = payload.get("status")
        mirror.append(
            STREAM,
            {
                "type": "alertmanager_received",
                "actor": actor,
                "status": status if isinstance(status, str) else "",
                "firing_critical": stored,
                "removed": removed,
                "ignored": ignored,
            },
        )
    return {"ok": True, "stored": len(stored), "removed": len(removed), "ignored": ignored}
