"""`manage.py support digest`: the support digest from the command line."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from echopilot.commands import AppCommand
from support.models import DEFAULT_LIMIT, MAX_LIMIT
from support.services import run_digest


class Command(AppCommand):
    help = "The support digest of unread mail (read-only on the mailbox)."
    actions = {
        "digest": "Print a JSON digest of the newest unread support mail (read-only on the "
        "mailbox). Exits non-zero when the mailbox cannot be read or the digest crashes.",
    }

    def args_digest(self, parser: ArgumentParser) -> None:
        # The range is checked once, by the service (exit 2 when it is out of range).
        parser.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"Most messages, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List labelled samples; read no mailbox."
        )
        parser.add_argument("--indent", type=int, default=None, help="Pretty-print the JSON.")

    def do_digest(self, options: dict[str, Any]) -> None:
        result = run_digest(actor="cli", limit=options["limit"], dry_run=options["dry_run"])
        self.write_json(result.to_dict(), indent=options["indent"])
        if not result.ok:
            # The failed digest is printed and stored; exit 1, as the seed command did.
            raise CommandError(f"{result.error}: {result.detail}")
