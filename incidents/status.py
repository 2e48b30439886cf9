"""The incidents app's status probe: how Telegram delivery is going."""

from echopilot import channels
from echopilot.status import OFF, OK, Component, since


def probe_telegram() -> Component:
    """Ok when nothing waits after a failed attempt; failing while an alert keeps failing."""
    from incidents.models import Alert

    if not channels.configured():
        return Component(OFF, "no alert channel configured: alerts are dry runs")
    pending = Alert.objects.filter(status=Alert.Status.PENDING)
    delivered = Alert.objects.filter(status=Alert.Status.DELIVERED).order_by("-delivered_at")
    last = delivered.values_list("delivered_at", flat=True).first()
    failing = pending.filter(attempts__gt=0).order_by("id").first()
    data = {"pending_alerts": pending.count(), "last_delivered_iso": since(last)}
    if failing is not None:
        detail = f"alert {failing.pk} failed {failing.attempts} time(s): {failing.last_error}"
        return Component("failing", detail[:300], data)
    return Component(OK, "", data)
