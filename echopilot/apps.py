from django.apps import AppConfig


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        import echopilot.security  # noqa: F401 - registers security checks and login limits
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals
