from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self):
        import costs.retention  # noqa: F401 - registers its retention kinds
        from costs import (
            checks,  # noqa: F401 - registers the system checks
            overview,
        )
        from echopilot.overview import register_card

        register_card(
            "costs",
            title="Costs",
            order=50,
            selector=overview.card,
            template="costs/overview_card.html",
        )
        from costs.metrics import monthly_usd
        from echopilot import metrics

        metrics.provide("echopilot_cost_monthly_usd", monthly_usd)
