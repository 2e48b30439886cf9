from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "flags"
    verbose_name = "Feature flags"

    def ready(self):
        import flags.retention  # noqa: F401 - registers its retention kinds
        from echopilot import metrics
        from echopilot.overview import register_card
        from flags import (
            announce,
            checks,  # noqa: F401 - registers the system checks
            overview,
            schema,  # noqa: F401 - registers the OpenAPI extension
            signals,
            usage,
        )

        usage.FLUSH_LISTENERS.append(metrics.record_flag_evaluations)
        signals.flag_changed.connect(announce.on_flag_changed, dispatch_uid="flags.announce")
        register_card(
            "flags",
            title="Flags",
            order=20,
            selector=overview.card,
            template="flags/overview_card.html",
        )
