"""Alert delivery: send pending alerts to Telegram in order, retrying until accepted."""

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from echopilot import metrics, mirror
from echopilot.secrets import redact
from incidents import clock, limits, telegram
from incidents.models import Alert
from incidents.services.common import STREAM

# Alerts sent per scan at most (oldest first); the rest wait for the next scan.
DELIVERY_BATCH = 20


def worst_send() -> float:
    """Seconds one alert can take at worst: a send, a short 429 wait, a second send."""
    return 2 * limits.value("TELEGRAM_TIMEOUT") + telegram.MAX_INLINE_WAIT


def send_budget() -> float:
    """Seconds a delivery round may take: it may run inside a request (a manual
    resolve, an API scan), which gunicorn kills after `WEB_TIMEOUT`."""
    return float(settings.WEB_TIMEOUT) - 5


def deliver_pending(*, now: dt.datetime | None = None) -> list[int]:
    """Send pending alerts oldest first; return the ids Telegram accepted.

    Stops at the first failure so messages keep their order. While a 429 asked
    to wait longer than 5 seconds, nothing is sent before that time.
    """
    now = now or clock.now()
    pending = Alert.objects.filter(status=Alert.Status.PENDING)
    if not telegram.configured():
        return []
    if pending.filter(next_attempt_at__gt=now).exists():
        return []
    delivered: list[int] = []
    # A sender holds its alert this long: past it, the sender is taken for dead.
    hold = dt.timedelta(seconds=2 * limits.value("TELEGRAM_TIMEOUT") + 30)
    started = time.monotonic()
    for n, alert in enumerate(pending.order_by("created_at", "id")[:DELIVERY_BATCH]):
        if n and time.monotonic() - started + worst_send() > send_budget():
            break  # the rest wait for the next scan: a request must end in time
        claimed = (
            Alert.objects.filter(pk=alert.pk, status=Alert.Status.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + hold)
        )
        if not claimed:
            break  # another scan is sending this queue right now
        result = telegram.send(alert.text, sleep=clock.sleep)
        metrics.alert_attempted("telegram", result.ok)
        _record_attempt(alert, result, now=clock.now())
        if not result.ok:
            break
        delivered.append(alert.pk)
    return delivered


def _record_attempt(alert: Alert, result: telegram.SendResult, *, now: dt.datetime) -> None:
    alert.attempts += 1
    alert.claimed_until = None
    line: dict[str, Any]
    if result.ok:
        alert.status = Alert.Status.DELIVERED
        alert.delivered_at = now
        alert.message_id = result.message_id
        alert.last_error = ""
        line = {"type": "alert_delivered", "attempts": alert.attempts}
    else:
        alert.last_error = redact(result.error)[:300]
        alert.next_attempt_at = now
        if result.retry_after is not None:
            alert.next_attempt_at = now + dt.timedelta(seconds=result.retry_after)
        # Never given up: an alert stays pending and every scan retries it until
        # Telegram accepts it (deliver_pending keeps the order and the batch cap).
        line = {
            "type": "alert_failed",
            "attempts": alert.attempts,
            "error": alert.last_error,
            "next_attempt_at": mirror.now_iso(alert.next_attempt_at),
        }
    with transaction.atomic():
        alert.save()
        mirror.append(
            STREAM,
            {**line, "alert_id": alert.pk, "incident_id": alert.incident_id, "kind": alert.kind},
        )
