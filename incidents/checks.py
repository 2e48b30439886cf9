"""System checks for the incidents settings (values that parse but cannot work)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from echopilot.limits import range_errors
from incidents import limits, sources


@register()
def incident_settings(app_configs=None, **kwargs):
    problems = range_errors(limits.LIMITS)
    problems += range_errors({"INCIDENT_OPS_SENTINEL_MAX_BYTES": sources.SENTINEL_BUDGET})
    base = urlsplit(getattr(settings, "TELEGRAM_API_BASE", "") or "")
    if base.scheme not in ("http", "https") or not base.netloc:
        problems.append(Error("TELEGRAM_API_BASE must be an http(s) URL.", id="incidents.E011"))
    problems += _fits_the_web_timeout()
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


def _fits_the_web_timeout() -> list[Error]:
    """An alert sent from a request (a manual resolve) must end before gunicorn kills it."""
    from echopilot import channels
    from incidents.services.delivery import send_budget, worst_send

    if not channels.configured():
        return []  # dry runs send nothing
    if "TELEGRAM_TIMEOUT" in getattr(settings, "INVALID_SETTINGS", {}) or range_errors(
        {"TELEGRAM_TIMEOUT": limits.LIMITS["TELEGRAM_TIMEOUT"]}
    ):
        return []
    if worst_send() > send_budget():
        return [
            Error(
                f"TELEGRAM_TIMEOUT={settings.TELEGRAM_TIMEOUT:g} is too long for "
                f"WEB_TIMEOUT={settings.WEB_TIMEOUT}: one alert can take 2 x TELEGRAM_TIMEOUT "
                f"+ 5 s, which must fit in WEB_TIMEOUT - 5.",
                hint="Lower TELEGRAM_TIMEOUT or raise WEB_TIMEOUT.",
                id="incidents.E012",
            )
        ]
    return []
