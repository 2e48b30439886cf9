"""Alert delivery: each channel's queue in order, retried every scan until accepted.

Every alert is stored once and owns one `Delivery` per channel it goes to. Each
channel's queue is sent by its own thread (network only; the database work
stays on the caller's thread), so a channel that fails or hangs never delays
or duplicates another: it stops its own queue at the failure, and the next scan
retries it. A delivery that was accepted is never sent again.
"""

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from echopilot import channels, metrics, mirror
from incidents import clock, limits
from incidents.models import Alert, Delivery
from incidents.services.common import STREAM

# Alerts sent per channel per scan at most (oldest first); the rest wait for the next scan.
DELIVERY_BATCH = 20
# Webhook `kind` of each alert kind (the webhook speaks of what happened to the incident).
WEBHOOK_KINDS = {
    Alert.Kind.OPEN: "opened",
    Alert.Kind.NEW_ISSUE: "escalated",
    Alert.Kind.ESCALATION: "escalated",
    Alert.Kind.TIER: "escalated",
    Alert.Kind.REPEAT: "repeat",
    Alert.Kind.REOPENED: "reopened",
    Alert.Kind.RESOLVED: "resolved",
}


def worst_send() -> float:
    """Seconds one alert can take at worst on a channel: a send, a short 429 wait, a second send."""
    return 2 * limits.value("TELEGRAM_TIMEOUT") + channels.MAX_INLINE_WAIT


def send_budget() -> float:
    """Seconds a delivery round may take: it may run inside a request (a manual
    resolve, an API scan), which gunicorn kills after `WEB_TIMEOUT`."""
    return float(settings.WEB_TIMEOUT) - 5


def message_for(delivery: Delivery) -> channels.Message:
    alert = delivery.alert
    return channels.Message(
        kind=WEBHOOK_KINDS.get(Alert.Kind(alert.kind), str(alert.kind)),
        text=alert.text,
        data=alert.payload,
        delivery_id=f"{alert.pk}-{delivery.channel}",
    )


def deliver_pending(*, now: dt.datetime | None = None) -> list[int]:
    """Send every channel's pending deliveries oldest first; return the ids accepted.

    A channel stops at its first failure so its messages keep their order;
    while a 429 asked it to wait longer than 5 seconds, nothing is sent to it.
    """
    now = now or clock.now()
    configured = channels.configured()
    if not configured:
        return []
    queues = {name: _claim_queue(name, now) for name in configured}
    queues = {name: queue for name, queue in queues.items() if queue}
    if not queues:
        return []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(queues)) as pool:
        futures = {
            name: pool.submit(_send_queue, configured[name], queue, started)
            for name, queue in queues.items()
        }
        outcomes = {name: future.result() for name, future in futures.items()}
    delivered: list[int] = []
    for name, queue in queues.items():
        sent = outcomes[name]
        for delivery, result in sent:
            metrics.alert_attempted(name, result.ok)
            _record_attempt(delivery, result, now=clock.now())
            if result.ok:
                delivered.append(delivery.pk)
        unsent = [d.pk for d in queue[len(sent) :]]
        Delivery.objects.filter(pk__in=unsent).update(claimed_until=None)
    return delivered


def _claim_queue(name: str, now: dt.datetime) -> list[Delivery]:
    """Claim this channel's due deliveries in order (stop at one another sender holds)."""
    pending = Delivery.objects.filter(channel=name, status=Delivery.Status.PENDING)
    if pending.filter(next_attempt_at__gt=now).exists():
        return []  # a 429 asked this channel to wait
    # A sender holds its queue this long: past it, the sender is taken for dead.
    hold = now + dt.timedelta(seconds=send_budget() + 30)
    claimed: list[Delivery] = []
    queue = pending.select_related("alert").order_by("alert__created_at", "alert_id")
    for delivery in queue[:DELIVERY_BATCH]:
        got = (
            Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=hold)
        )
        if not got:
            break  # another scan is sending this queue right now
        claimed.append(delivery)
    return claimed


def _send_queue(
    channel: channels.Channel, queue: list[Delivery], started: float
) -> list[tuple[Delivery, channels.SendResult]]:
    """Send in order until a failure or the round's deadline (runs in a worker thread)."""
    sent: list[tuple[Delivery, channels.SendResult]] = []
    timeout = limits.value("TELEGRAM_TIMEOUT")
    for n, delivery in enumerate(queue):
        if n and time.monotonic() - started + worst_send() > send_budget():
            break  # the rest wait for the next scan: a request must end in time
        result = channels.send_with_retry(
            channel, message_for(delivery), timeout=timeout, sleep=clock.sleep
        )
        sent.append((delivery, result))
        if not result.ok:
            break
    return sent


def _record_attempt(delivery: Delivery, result: channels.SendResult, *, now: dt.datetime) -> None:
    delivery.attempts += 1
    delivery.claimed_until = None
    line: dict[str, Any]
    if result.ok:
        delivery.status = Delivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.external_id = result.external_id[:100]
        delivery.last_error = ""
        line = {"type": "alert_delivered", "attempts": delivery.attempts}
    else:
        delivery.last_error = result.error[:300]
        delivery.next_attempt_at = now
        if result.retry_after is not None:
            delivery.next_attempt_at = now + dt.timedelta(seconds=result.retry_after)
        # Never given up: it stays pending and every scan retries it until accepted.
        line = {
            "type": "alert_failed",
            "attempts": delivery.attempts,
            "error": delivery.last_error,
            "next_attempt_at": mirror.now_iso(delivery.next_attempt_at),
        }
    alert = delivery.alert
    with transaction.atomic():
        delivery.save()
        _sum_up(alert, delivery)
        mirror.append(
            STREAM,
            {
                **line,
                "alert_id": alert.pk,
                "incident_id": alert.incident_id,
                "kind": alert.kind,
                "channel": delivery.channel,
            },
        )


def _sum_up(alert: Alert, latest: Delivery) -> None:
    """Keep the alert's own fields a summary of its deliveries (delivered when all are)."""
    rows = list(Delivery.objects.filter(alert=alert))
    alert.attempts = sum(d.attempts for d in rows)
    done = [d for d in rows if d.status == Delivery.Status.DELIVERED]
    if len(done) == len(rows):
        alert.status = Alert.Status.DELIVERED
        alert.delivered_at = max(d.delivered_at for d in done if d.delivered_at)
        alert.last_error = ""
    else:
        alert.last_error = latest.last_error or alert.last_error
    alert.next_attempt_at = min((d.next_attempt_at for d in rows), default=alert.next_attempt_at)
    for d in done:
        if d.channel_type == "telegram" and d.external_id.isdigit():
            alert.message_id = int(d.external_id)
    alert.save()
