"""System checks for configs/incidents.json: a bad channel or route stops start-up."""

from django.core.checks import Error, register

from echopilot.channels.config import load, path


@register()
def channel_config(app_configs=None, **kwargs):
    config = load()
    return [
        Error(f"{path().name}: {text}", hint=f"Fix {path()}.", id=check_id)
        for check_id, text in config.problems
    ]
