from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    verbose_name = "Experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import experiments.retention  # noqa: F401 - registers its retention kinds
        from experiments import checks  # noqa: F401 - registers the system checks
