from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

# (file in ECHOPILOT_CONFIG_DIR, command, arguments) that load each app's config.
LOADERS = [("flags.json", "flags", ["load"]), ("experiments.json", "experiments", ["load"])]


class Command(BaseCommand):
    help = "Load configs/ (flags, experiments): creates what is missing, overwrites nothing."

    def handle(self, *args, **options):
        available = get_commands()
        for filename, name, arguments in LOADERS:
            if not (settings.CONFIG_DIR / filename).is_file():
                self.stdout.write(f"skipped {filename}: not in {settings.CONFIG_DIR}")
                continue
            if name in available:
                call_command(name, *arguments, stdout=self.stdout, stderr=self.stderr)
