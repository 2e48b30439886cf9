from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EchopilotConfig(AppConfig):
    name = "echopilot"
    verbose_name = "EchoPilot Ops"

    def ready(self):
        import echopilot.datachecks  # checks of retention, rotation, backups
        import echopilot.files
        import echopilot.retention  # registers the core's retention kinds
        import echopilot.security  # registers the security checks and login limits
        from echopilot import access, checks, schema  # noqa: F401 - registers checks, schema, signals

        echopilot.files.prepare_sqlite()  # 0600 before SQLite opens it and makes WAL/SHM

        from echopilot.access.groups import sync_after_migrate
        from echopilot.channels import checks as channel_checks  # noqa: F401
        from echopilot.overview import register_card, scheduler_card

        # After auth's own receiver (auth is ready first), so permissions exist.
        post_migrate.connect(sync_after_migrate, dispatch_uid="echopilot.sync_groups")
        register_card(
            "scheduler",
            title="Scheduler",
            order=60,
            selector=scheduler_card,
            template="echopilot/overview_card.html",
        )
