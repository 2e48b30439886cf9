from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self):
        from costs import checks  # noqa: F401 - registers the system checks
        from costs.metrics import monthly_usd
        from echopilot import metrics

        metrics.provide("echopilot_cost_monthly_usd", monthly_usd)
