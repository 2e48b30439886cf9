from django.apps import AppConfig


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        import echopilot.datachecks  # checks of retention, rotation, backups
        import echopilot.retention  # noqa: F401 - registers the core's retention kinds
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals
