"""`manage.py experiments list|assign|results|load|pause|resume|stop|recount|plan`.

Errors exit with the domain error's code (echopilot.commands): 2 invalid input
(a bad user, event name, winner or config file), 3 unknown experiment, 4 a
conflict (a stopped experiment, a locked definition, a salt in use).
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from echopilot.commands import AppCommand
from echopilot.exceptions import ServiceError
from experiments import selectors, services, timeseries
from experiments.limits import USER_MAX
from experiments.models import Status

ACTOR = "cli"


class Command(AppCommand):
    help = "List, assign, show results, load configs/experiments.json, pause/resume/stop."
    actions = {
        "list": "Experiments with status, variants, weights, exposures.",
        "assign": "Print a user's variant.",
        "results": "Print results as JSON (same shape as the API).",
        "load": "Create experiments from the config file; overwrite nothing.",
        "pause": "Pause an experiment.",
        "resume": "Resume an experiment.",
        "stop": "Stop an experiment, optionally declaring a winner.",
        "recount": "Rebuild the aggregates from the raw rows; report any difference.",
        "plan": "Users per variant needed for an effect (as GET /api/exp/plan).",
        "timeseries": "Cumulative results per UTC day (as GET /api/exp/timeseries).",
    }

    def run_action(self, action: str, options: dict[str, Any]) -> None:
        """Run `do_<action>` as AppCommand does, with the error's code after its text.

        The message has always ended in the machine code ("No experiment 'x'.
        (unknown_experiment)"), which scripts match on.
        """
        try:
            getattr(self, f"do_{action}")(options)
        except ServiceError as exc:
            raise CommandError(f"{exc.detail} ({exc.code})", returncode=exc.exit_code) from None

    # --- arguments ------------------------------------------------------------------

    def args_assign(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")
        parser.add_argument("user", help=f"The user id (at most {USER_MAX} characters).")
        parser.add_argument(
            "--record",
            action="store_true",
            help="Also store the exposure (by default only compute the variant).",
        )

    def args_results(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")
        parser.add_argument("--event", default="conversion")
        parser.add_argument(
            "--all-metrics",
            action="store_true",
            help="Every declared metric and the failed guardrails (as metrics=all).",
        )

    def args_load(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--file", type=Path, help="Default: $ECHOPILOT_CONFIG_DIR/experiments.json"
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Apply differences to existing experiments (refused once users are exposed).",
        )

    def args_pause(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")

    def args_resume(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")

    def args_stop(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")
        parser.add_argument("--winner", default=None)

    def args_plan(self, parser: ArgumentParser) -> None:
        parser.add_argument("--baseline", required=True, help="The control's rate, in (0, 1).")
        effect = parser.add_mutually_exclusive_group(required=True)
        effect.add_argument("--mde", help="Absolute minimum detectable effect.")
        effect.add_argument("--mde-rel", dest="mde_rel", help="Relative effect (0.2 = +20%%).")
        parser.add_argument("--alpha", default="0.05")
        parser.add_argument("--power", default="0.8")
        parser.add_argument("--variants", default="2")

    def args_timeseries(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment")
        parser.add_argument("--event", default="conversion")
        parser.add_argument("--days", default="30")

    def args_recount(self, parser: ArgumentParser) -> None:
        parser.add_argument("experiment", nargs="?", default=None, help="Default: every one.")

    # --- actions --------------------------------------------------------------------

    def do_list(self, options: dict[str, Any]) -> None:
        rows = selectors.list_experiments()
        if not rows:
            self.stdout.write("no experiments")
        for exp in rows:
            winner = f" winner={exp.winner}" if exp.winner else ""
            self.stdout.write(
                f"{exp.key:24} {exp.status:8}{winner} [{selectors.format_arms(exp)}] "
                f"exposures={exp.exposure_count} salt={exp.salt}"
            )

    def do_assign(self, options: dict[str, Any]) -> None:
        result = services.assign(
            experiment=options["experiment"],
            user=options["user"],
            actor=ACTOR,
            record=options["record"],
        )
        self.stdout.write(result["variant"])

    def do_results(self, options: dict[str, Any]) -> None:
        if options["all_metrics"]:
            every = selectors.results_all(experiment=options["experiment"])
            self.stderr.write(selectors.verdict(every)["text"])
            self.write_json({"ok": True, **every}, indent=2)
            return
        data = selectors.results(experiment=options["experiment"], event=options["event"])
        if data["srm"]["srm"]:
            self.stderr.write(
                f"WARNING: sample ratio mismatch (p={data['srm']['p_value']:.3g}): "
                "the split does not match the weights; do not trust these results."
            )
        self.write_json({"ok": True, **data}, indent=2)

    def do_load(self, options: dict[str, Any]) -> None:
        path = options["file"] or services.config_path()
        if options["file"] is None and not path.exists():
            self.stdout.write(f"experiments: no {path}; nothing to load")
            return
        for r in services.load_config(path=path, update=options["update"], actor="config"):
            detail = f" ({r.detail})" if r.detail else ""
            line = f"experiments: {r.action:9} {r.key}{detail}"
            self.stdout.write(self.style.WARNING(line) if r.action == "differs" else line)

    def do_pause(self, options: dict[str, Any]) -> None:
        self._status(options["experiment"], Status.PAUSED)

    def do_resume(self, options: dict[str, Any]) -> None:
        self._status(options["experiment"], Status.RUNNING)

    def do_stop(self, options: dict[str, Any]) -> None:
        self._status(options["experiment"], Status.STOPPED, options["winner"])

    def _status(self, experiment: str, status: str, winner: str | None = None) -> None:
        exp = services.experiment_set_status(
            key=experiment, status=status, winner=winner, actor=ACTOR
        )
        winner_text = f" (winner {exp.winner})" if exp.winner else ""
        self.stdout.write(f"{exp.key}: {exp.status}{winner_text}")

    def do_recount(self, options: dict[str, Any]) -> None:
        found = 0
        for r in services.recount(key=options["experiment"]):
            found += r.difference_count
            state = f"{r.difference_count} difference(s), corrected" if r.difference_count else "ok"
            self.stdout.write(f"{r.key}: {r.compared} aggregate rows compared, {state}")
            for line in r.differences:
                self.stdout.write(f"  {line}")
            if r.difference_count > len(r.differences):
                self.stdout.write(f"  … and {r.difference_count - len(r.differences)} more")
        if found:
            # The aggregates are correct now, but a difference means a bug (or raw
            # rows written behind the services' back): scripts must notice.
            raise CommandError(f"{found} difference(s) found and corrected.", returncode=1)

    def do_plan(self, options: dict[str, Any]) -> None:
        names = ("baseline", "mde", "mde_rel", "alpha", "power", "variants")
        result = services.plan(**{n: options[n] for n in names})
        self.write_json({"ok": True, **result}, indent=2)

    def do_timeseries(self, options: dict[str, Any]) -> None:
        data = timeseries.timeseries(
            experiment=options["experiment"], event=options["event"], days=options["days"]
        )
        self.write_json({"ok": True, **data}, indent=2)
