"""`manage.py cost_report`: compute the cost report, store it and print it as JSON."""

from django.core.management.base import BaseCommand

from costs import services
from echopilot.renderers import dumps


class Command(BaseCommand):
    help = "Measure storage, compute and bandwidth cost; store the report and print it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Compute and print the report without storing it.",
        )
        parser.add_argument("--indent", type=int, default=None, help="Pretty-print the JSON.")

    def handle(self, *args, dry_run=False, indent=None, **options):
        report = services.create_report(save=not dry_run, actor="cli")
        self.stdout.write(dumps(report, indent=indent))
