"""System checks for the experiments app."""

from django.core.checks import Warning, register


@register()
def experiments_config(app_configs, **kwargs):
    """Warn at start-up when configs/experiments.json cannot be loaded."""
    from experiments import services

    path = services.config_path()
    if not path.exists():
        return []
    try:
        services.read_config(path)
    except services.ConfigError as exc:
        return [
            Warning(
                str(exc),
                hint="Fix the file; `manage.py load_configs` refuses it until then.",
                id="experiments.W001",
            )
        ]
    return []
