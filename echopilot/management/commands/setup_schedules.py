from django.core.management.base import BaseCommand

from echopilot import schedules


class Command(BaseCommand):
    help = "Create or update the Django-Q2 schedule of every app (safe to re-run)."

    def handle(self, *args, **options):
        results = schedules.sync()
        for name, action in results:
            self.stdout.write(f"{action:9} {name}")
        if not results:
            self.stdout.write("no schedules registered")
