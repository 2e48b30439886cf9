from django.core.management.base import BaseCommand, CommandError

from echopilot.renderers import dumps
from support.services import MAX_LIMIT, run_digest


class Command(BaseCommand):
    help = (
        "Print a JSON digest of the newest unread support mail (read-only on the mailbox). "
        "Exits non-zero when the mailbox cannot be read or the digest crashes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=20, help=f"Most messages, 1-{MAX_LIMIT} (default 20)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List labelled samples; read no mailbox."
        )
        parser.add_argument("--indent", type=int, default=None, help="Pretty-print the JSON.")

    def handle(self, *args, limit, dry_run, indent, **options):
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit must be an integer from 1 to {MAX_LIMIT}")
        result = run_digest(actor="cli", limit=limit, dry_run=dry_run)
        self.stdout.write(dumps(result.to_dict(), indent=indent or None))
        if not result.ok:
            raise CommandError(f"{result.error}: {result.detail}")
