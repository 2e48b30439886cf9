from django.apps import AppConfig


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals
        from echopilot.channels import checks as channel_checks  # noqa: F401
