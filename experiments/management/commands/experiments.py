"""`manage.py experiments list|assign|results|load|pause|resume|stop`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from echopilot.errors import ApiError
from echopilot.renderers import dumps
from experiments import selectors, services
from experiments.models import Status


class Command(BaseCommand):
    help = "List, assign, show results, load configs/experiments.json, pause/resume/stop."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Experiments with status, variants, weights, exposures.")
        p = sub.add_parser("assign", help="Print a user's variant.")
        p.add_argument("experiment")
        p.add_argument("user")
        p.add_argument(
            "--record",
            action="store_true",
            help="Also store the exposure (by default only compute the variant).",
        )
        p = sub.add_parser("results", help="Print results as JSON (same shape as the API).")
        p.add_argument("experiment")
        p.add_argument("--event", default="conversion")
        p = sub.add_parser(
            "load", help="Create experiments from the config file; overwrite nothing."
        )
        p.add_argument("--file", type=Path, help="Default: $ECHOPILOT_CONFIG_DIR/experiments.json")
        p.add_argument(
            "--update",
            action="store_true",
            help="Apply differences to existing experiments (refused once users are exposed).",
        )
        for name in ("pause", "resume"):
            sub.add_parser(name, help=f"{name.capitalize()} an experiment.").add_argument(
                "experiment"
            )
        p = sub.add_parser("stop", help="Stop an experiment, optionally declaring a winner.")
        p.add_argument("experiment")
        p.add_argument("--winner", default=None)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action}")(**options)
        except ApiError as exc:
            raise CommandError(f"{exc.detail} ({exc.code})") from None

    def do_list(self, **options):
        rows = selectors.list_experiments()
        if not rows:
            self.stdout.write("no experiments")
        for exp in rows:
            winner = f" winner={exp.winner}" if exp.winner else ""
            self.stdout.write(
                f"{exp.key:24} {exp.status:8}{winner} [{selectors.format_arms(exp)}] "
                f"exposures={exp.exposure_count} salt={exp.salt}"
            )

    def do_assign(self, *, experiment, user, record, **options):
        result = services.assign(experiment=experiment, user=user, actor="cli", record=record)
        self.stdout.write(result["variant"])

    def do_results(self, *, experiment, event, **options):
        data = selectors.results(experiment=experiment, event=event)
        if data["srm"]["srm"]:
            self.stderr.write(
                f"WARNING: sample ratio mismatch (p={data['srm']['p_value']:.3g}): "
                "the split does not match the weights; do not trust these results."
            )
        self.stdout.write(dumps({"ok": True, **data}, indent=2))

    def do_load(self, *, file, update, **options):
        path = file or services.config_path()
        if file is None and not path.exists():
            self.stdout.write(f"experiments: no {path}; nothing to load")
            return
        for r in services.load_config(path=path, update=update, actor="config"):
            detail = f" ({r.detail})" if r.detail else ""
            line = f"experiments: {r.action:9} {r.key}{detail}"
            self.stdout.write(self.style.WARNING(line) if r.action == "differs" else line)

    def _status(self, experiment, status, winner=None):
        exp = services.experiment_set_status(
            key=experiment, status=status, winner=winner, actor="cli"
        )
        winner = f" (winner {exp.winner})" if exp.winner else ""
        self.stdout.write(f"{exp.key}: {exp.status}{winner}")

    def do_pause(self, *, experiment, **options):
        self._status(experiment, Status.PAUSED)

    def do_resume(self, *, experiment, **options):
        self._status(experiment, Status.RUNNING)

    def do_stop(self, *, experiment, winner, **options):
        self._status(experiment, Status.STOPPED, winner)
