from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self):
        import incidents.retention  # noqa: F401 - registers its retention kinds
        from echopilot.status import register_probe
        from incidents import checks  # noqa: F401 - registers the system checks
        from incidents.status import probe_telegram

        register_probe("telegram", probe_telegram)

        from echopilot.overview import register_card
        from incidents import overview

        register_card(
            "incidents",
            title="Incident",
            order=10,
            selector=overview.card,
            template="incidents/overview_card.html",
        )

        from echopilot import metrics
        from incidents import metrics as gauges

        metrics.provide("echopilot_incident_open", gauges.open_by_severity)
        metrics.provide("echopilot_alerts_pending", gauges.alerts_pending)
