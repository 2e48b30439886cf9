from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "flags"
    verbose_name = "Feature flags"

    def ready(self):
        import flags.retention  # noqa: F401 - registers its retention kinds
        from flags import checks  # noqa: F401 - registers the system checks
