from django.apps import AppConfig


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        import echopilot.datachecks  # checks of retention, rotation, backups
        import echopilot.files
        import echopilot.retention  # registers the core's retention kinds
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals

        echopilot.files.prepare_sqlite()  # 0600 before SQLite opens it and makes WAL/SHM
