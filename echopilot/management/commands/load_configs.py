from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

# (command, arguments) that load each app's file from ECHOPILOT_CONFIG_DIR.
LOADERS = [("flags", ["load"]), ("experiments", ["load"])]


class Command(BaseCommand):
    help = "Load configs/ (flags, experiments): creates what is missing, overwrites nothing."

    def handle(self, *args, **options):
        available = get_commands()
        for name, arguments in LOADERS:
            if name in available:
                call_command(name, *arguments, stdout=self.stdout, stderr=self.stderr)
