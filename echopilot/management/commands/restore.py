from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from echopilot import backup
from echopilot.exceptions import ServiceError
from echopilot.secrets import redact


class Command(BaseCommand):
    help = (
        "Restore a backup (manage.py backup) into the configured database, which must be "
        "empty unless --force, and check every table's rows against the backup's manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup: echopilot-<UTC timestamp>.tar")
        parser.add_argument("--yes", action="store_true", help="Really restore (required).")
        parser.add_argument(
            "--force", action="store_true", help="Replace the content of a non-empty database."
        )
        parser.add_argument(
            "--configs",
            action="store_true",
            help="Also write the backup's configs/ files into ECHOPILOT_CONFIG_DIR.",
        )

    def handle(self, *args, **options):
        if not options["yes"]:
            raise CommandError("restore replaces database content: pass --yes", returncode=2)
        try:
            result = backup.restore(
                Path(options["file"]), force=options["force"], configs=options["configs"]
            )
        except ServiceError as exc:
            raise CommandError(exc.detail, returncode=exc.exit_code) from None
        except (DatabaseError, OSError) as exc:
            why = redact(f"{type(exc).__name__}: {exc}".strip())[:500]
            raise CommandError(f"restore failed: {why}", returncode=5) from None
        self.stdout.write(
            f"restored {result['file']} (taken {result['created']}): {result['tables']} tables, "
            f"{result['rows']} rows, each as in the manifest"
        )
        for name in result["configs_restored"]:
            self.stdout.write(f"config restored: {name}")
