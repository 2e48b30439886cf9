from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals
        from echopilot.access.groups import sync_after_migrate

        # After auth's own receiver (auth is ready first), so permissions exist.
        post_migrate.connect(sync_after_migrate, dispatch_uid="echopilot.sync_groups")
