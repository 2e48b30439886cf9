"""`manage.py costs report|history`: cost reports from the command line."""

from argparse import ArgumentParser
from typing import Any

from costs import selectors, services
from echopilot.commands import AppCommand


def _indent(parser: ArgumentParser) -> None:
    parser.add_argument("--indent", type=int, default=None, help="Pretty-print the JSON.")


class Command(AppCommand):
    help = "Cost reports: compute (and store) one, or print the stored ones."
    actions = {
        "report": "Measure storage, compute and bandwidth cost; store the report and print it.",
        "history": "Print the reports stored in the last days as JSON, oldest first "
        "(the body of GET /api/costs/history).",
    }

    def args_report(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Compute and print the report without storing it.",
        )
        _indent(parser)

    def do_report(self, options: dict[str, Any]) -> None:
        report = services.create_report(save=not options["dry_run"], actor="cli")
        self.write_json(report, indent=options["indent"])

    def args_history(self, parser: ArgumentParser) -> None:
        # The range is checked once, by the selector (exit 2 when it is out of range).
        parser.add_argument(
            "--days",
            type=int,
            default=selectors.HISTORY_DAYS,
            help=f"Window in days, 1-{selectors.MAX_HISTORY_DAYS} "
            f"(default {selectors.HISTORY_DAYS}).",
        )
        _indent(parser)

    def do_history(self, options: dict[str, Any]) -> None:
        self.write_json(selectors.history(days=options["days"]), indent=options["indent"])
