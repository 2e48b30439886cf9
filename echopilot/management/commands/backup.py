from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from echopilot import backup
from echopilot.exceptions import ServiceError
from echopilot.renderers import dumps
from echopilot.secrets import redact


class Command(BaseCommand):
    help = (
        "Write a consistent snapshot of the database and configs/ to ECHOPILOT_BACKUP_DIR "
        "(echopilot-<UTC timestamp>.tar), keeping the newest BACKUP_KEEP; or, with "
        "--verify FILE, restore FILE into a throwaway database and compare row counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--verify", metavar="FILE", help="Check FILE by restoring it into a throwaway database."
        )
        parser.add_argument("--keep", type=int, help="Backups to keep (default BACKUP_KEEP).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        try:
            if options["verify"]:
                result = backup.verify(Path(options["verify"]))
            else:
                keep = options["keep"]
                if keep is not None and keep < 1:
                    raise CommandError("--keep must be at least 1", returncode=2)
                result = backup.create(keep=keep).as_dict()
        except ServiceError as exc:
            raise CommandError(exc.detail, returncode=exc.exit_code) from None
        except (DatabaseError, OSError) as exc:
            why = redact(f"{type(exc).__name__}: {exc}".strip())[:500]
            raise CommandError(f"backup failed: {why}", returncode=5) from None
        if options["json"]:
            self.stdout.write(dumps(result))
        elif options["verify"]:
            self._print_verify(result)
        else:
            self.stdout.write(
                f"backup written: {result['file']} ({result['bytes']} bytes, "
                f"{result['tables']} tables, {result['rows']} rows, sha256 {result['sha256']})"
            )
            for name in result["removed"]:
                self.stdout.write(f"removed old backup: {name}")
        if not result["ok"]:
            raise CommandError("the restored copy does not match the manifest", returncode=5)

    def _print_verify(self, result):
        if result["ok"]:
            self.stdout.write(
                f"verified: {result['file']} (taken {result['created']}, {result['database']}) "
                f"restores to {result['tables']} tables, {result['rows']} rows as in its manifest"
            )
        for table, (expected, found) in result["mismatches"].items():
            self.stdout.write(f"mismatch: {table}: manifest {expected}, restored {found}")
