from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support digest"

    def ready(self):
        import support.retention  # noqa: F401 - registers its retention kinds
        from echopilot.status import register_probe
        from support import checks  # noqa: F401 - registers the system checks
        from support.status import probe_imap

        register_probe("imap", probe_imap)

        from echopilot.overview import register_card
        from support import overview

        register_card(
            "support",
            title="Support",
            order=40,
            selector=overview.card,
            template="support/overview_card.html",
        )
