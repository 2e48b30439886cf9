"""System checks of the data lifecycle: retention days, log rotation, backups, `.env` mode."""

import stat

from django.conf import settings
from django.core.checks import Tags, Warning, register

from echopilot import rotation
from echopilot.limits import Range, range_errors

LIFECYCLE_RANGES = {
    # Zero makes no sense for these two: a file rotated at every line, a backup
    # deleted as soon as it is written. LOG_KEEP=0 keeps no rotated file.
    "LOG_MAX_MB": rotation.MAX_MB,
    "LOG_KEEP": rotation.KEEP,
    "BACKUP_KEEP": Range("echopilot.E104", 1, 1000, "backups", above_minimum=False),
}


@register()
def lifecycle_settings(app_configs, **kwargs):
    """Retention days of every registered kind, log rotation and backup numbers."""
    from echopilot.retention import DAYS_RANGE, REGISTRY

    days = {kind.setting: DAYS_RANGE for kind in REGISTRY.values()}
    # A kind whose setting is not defined at all uses its default_days.
    unset = frozenset(name for name in days if getattr(settings, name, None) is None)
    return range_errors(days, optional=unset) + range_errors(LIFECYCLE_RANGES)


@register(Tags.security, deploy=True)
def env_file_private(app_configs, **kwargs):
    """Warn when `.env` (the dashboard key, the secret key) is readable by others."""
    path = getattr(settings, "ENV_FILE", None)
    if path is None:
        return []
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if not stat.S_ISREG(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []  # a device such as /dev/null holds no secrets
    return [
        Warning(
            f"{path.name} holds secrets and is readable by others (mode {stat.S_IMODE(mode):04o}).",
            hint=f"chmod 600 {path}",
            id="echopilot.W102",
        )
    ]
