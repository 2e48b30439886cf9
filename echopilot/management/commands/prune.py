from django.core.management.base import BaseCommand, CommandError

from echopilot import mirror, retention


class Command(BaseCommand):
    help = (
        "Delete records past their retention (per kind: RETENTION_*_DAYS), in batches "
        "of short transactions; safe while the service runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--kind",
            action="append",
            choices=sorted(retention.REGISTRY),
            help="Prune only this kind (repeatable); default: every kind.",
        )

    def handle(self, *args, **options):
        dry_run = options["dry_run"]
        outcomes = retention.prune(dry_run=dry_run, kinds=options["kind"])
        verb = "would delete" if dry_run else "deleted"
        for o in outcomes:
            line = f"{o.kind}: {verb} {o.rows} (older than {mirror.iso(o.cutoff)}, "
            line += f"kept {o.keep_days} days)"
            if o.cascaded:
                line += " with " + ", ".join(f"{n} {m}" for m, n in sorted(o.cascaded.items()))
            if o.error:
                line += f" FAILED: {o.error}"
            self.stdout.write(line)
        failed = [o.kind for o in outcomes if o.error]
        if failed:
            raise CommandError("pruning failed for: " + ", ".join(failed))
