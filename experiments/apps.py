from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import experiments.retention  # noqa: F401 - registers its retention kinds
        from echopilot.overview import register_card
        from experiments import (
            checks,  # noqa: F401 - registers the system checks
            overview,
        )

        register_card(
            "experiments",
            title="Experiments",
            order=30,
            selector=overview.card,
            template="experiments/overview_card.html",
        )
