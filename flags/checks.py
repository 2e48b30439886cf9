"""System checks: a flags config file that cannot be loaded is reported at start-up."""

from django.core.checks import Warning, register

from flags.services import ConfigError, config_path, read_config


@register()
def flags_config(app_configs, **kwargs):
    path = config_path()
    if not path.exists():
        return []
    try:
        read_config(path)
    except ConfigError as exc:
        return [
            Warning(
                f"Feature flags config is invalid: {exc}",
                hint="Fix the file; `manage.py flags load` refuses it and changes nothing.",
                id="flags.W001",
            )
        ]
    return []
