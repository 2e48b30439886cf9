from django.core.management.base import BaseCommand

from echopilot.renderers import dumps
from incidents import services


class Command(BaseCommand):
    help = "Scan the health signals once: open, update or resolve the incident, alert on Telegram."

    def add_arguments(self, parser):
        parser.add_argument("--compact", action="store_true", help="One-line JSON output.")

    def handle(self, *args, **options):
        result = services.scan(actor="cli")
        indent = None if options["compact"] else 2
        self.stdout.write(dumps(result, indent=indent))
