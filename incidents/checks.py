"""System checks for the incidents settings (values that parse but cannot work)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from echopilot.limits import range_errors
from incidents import limits


@register()
def incident_settings(app_configs=None, **kwargs):
    problems = range_errors(limits.LIMITS)
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
