"""System checks for the incidents settings (values that parse but cannot work)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def incident_settings(app_configs=None, **kwargs):
    problems = []

    def number(name):
        value = getattr(settings, name, None)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    for name, check_id in (
        ("SLO_P95_MS", "incidents.E001"),
        ("OPS_WARNING_WINDOW_MINUTES", "incidents.E002"),
        ("INCIDENT_REPEAT_MINUTES", "incidents.E003"),
        ("TELEGRAM_TIMEOUT", "incidents.E004"),
    ):
        value = number(name)
        if value is None or not value > 0:
            problems.append(Error(f"{name} must be a number above 0.", id=check_id))
    success = number("SLO_SUCCESS_MIN")
    if success is None or not 0 < success <= 1:
        problems.append(
            Error("SLO_SUCCESS_MIN must be a fraction in (0, 1], e.g. 0.99.", id="incidents.E010")
        )
    base = urlsplit(getattr(settings, "TELEGRAM_API_BASE", "") or "")
    if base.scheme not in ("http", "https") or not base.netloc:
        problems.append(Error("TELEGRAM_API_BASE must be an http(s) URL.", id="incidents.E011"))
    token = bool(getattr(settings, "TELEGRAM_BOT_TOKEN", ""))
    chat = bool(getattr(settings, "TELEGRAM_CHAT_ID", ""))
    if token != chat:
        problems.append(
            Warning(
                "Only one of TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID is set: incidents "
                "run in dry-run mode (no Telegram messages).",
                id="incidents.W001",
            )
        )
    return problems
