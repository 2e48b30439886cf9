"""System checks: a flags config file that cannot be loaded is reported at start-up."""

import logging

from django.core.checks import Warning, register

from flags.config import ConfigError, config_path, read_config

logger = logging.getLogger("flags.checks")
HINT = "Fix the file; `manage.py flags load` refuses it and changes nothing."


@register()
def flags_config(app_configs, **kwargs):
    path = config_path()
    try:
        if not path.exists():
            return []
        read_config(path)
    except ConfigError as exc:
        return [Warning(f"Feature flags config is invalid: {exc}", hint=HINT, id="flags.W001")]
    except Exception as exc:
        logger.exception("flags: checking %s failed", path)
        return [
            Warning(
                f"Feature flags config {path} could not be checked: {type(exc).__name__}: {exc}",
                hint=HINT,
                id="flags.W001",
            )
        ]
    return []
