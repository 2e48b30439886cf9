"""System checks: configuration that cannot work stops `check`, `migrate` and start-up."""

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from echopilot.limits import Range, range_errors


@register()
def environment_values(app_configs, **kwargs):
    """Report environment variables that could not be parsed."""
    return [
        Error(message, hint="Fix the variable in the environment or .env.", id="echopilot.E001")
        for message in settings.INVALID_SETTINGS.values()
    ]


@register()
def log_dir_writable(app_configs, **kwargs):
    path = settings.LOG_DIR
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        return [
            Error(
                f"ECHOPILOT_LOG_DIR {path} cannot be created or written.",
                hint="Point ECHOPILOT_LOG_DIR at a writable directory.",
                id="echopilot.E002",
            )
        ]
    return []


@register()
def dashboard_key(app_configs, **kwargs):
    if not settings.DASHBOARD_KEY.strip():
        return [
            Warning(
                "DASHBOARD_KEY is empty: only stored API keys (manage.py apikeys) open "
                "the API; with none active it refuses every request (503).",
                hint="Set DASHBOARD_KEY (make run writes a random one to .env), or create "
                "keys with manage.py apikeys create.",
                id="echopilot.W001",
            )
        ]
    short = [k for k in settings.DASHBOARD_KEY.split(",") if 0 < len(k.strip()) < 16]
    if short:
        return [
            Error(
                "A DASHBOARD_KEY entry is shorter than 16 characters.",
                hint="Use long random keys (make run writes one to .env).",
                id="echopilot.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def secret_key_persistent(app_configs, **kwargs):
    if not settings.SECRET_KEY_FROM_ENV:
        return [
            Error(
                "SECRET_KEY is not set: each process makes its own, so admin "
                "sessions break across workers and restarts.",
                hint="Set SECRET_KEY in the environment or .env.",
                id="echopilot.E004",
            )
        ]
    return []


CORE_RANGES = {
    "REDIS_TIMEOUT": Range("echopilot.E005", 0, 5, "seconds", hint="e.g. 0.25"),
    "REDIS_BREAKER_SECONDS": Range("echopilot.E006", 0, 300, "seconds", above_minimum=False),
    "WEB_TIMEOUT": Range("echopilot.E007", 5, 3600, "seconds", hint="gunicorn's --timeout"),
}


@register()
def core_ranges(app_configs, **kwargs):
    """Numbers of the core out of range: Redis timeouts, the web timeout, task retry."""
    errors = range_errors(CORE_RANGES)
    q = settings.Q_CLUSTER
    if q["retry"] <= q["timeout"]:
        errors.append(
            Error(
                f"Q_RETRY={q['retry']} must exceed Q_TIMEOUT={q['timeout']}.",
                hint="Otherwise a task still running is handed to a second worker.",
                id="echopilot.E008",
            )
        )
    return errors


@register()
def metrics_directory(app_configs, **kwargs):
    """PROMETHEUS_MULTIPROC_DIR, when set, must be a writable directory (every process writes)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.PROMETHEUS_MULTIPROC_DIR
    if path and not (os.path.isdir(path) and os.access(path, os.W_OK)):
        return [
            Error(
                f"PROMETHEUS_MULTIPROC_DIR={path} is not a writable directory: no metric "
                "would be counted.",
                hint="Create it (empty) before starting the processes; make run does.",
                id="echopilot.E017",
            )
        ]
    return []
