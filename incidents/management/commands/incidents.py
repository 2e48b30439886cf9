"""`manage.py incidents ACTION`: scan, example signals, list/ack/resolve, silences."""

from argparse import ArgumentParser
from typing import Any

from echopilot.commands import AppCommand
from echopilot.exceptions import Invalid
from incidents import clock, selectors, services
from incidents.services import routing
from incidents.sources import parse_ts

# Incidents `list` shows by default: a screenful (the API's default is larger).
LIST_DEFAULT = 20


class Command(AppCommand):
    help = "Scan the health signals; list, acknowledge or resolve incidents; manage silences."
    actions = {
        "scan": "Scan the health signals once: open, update or resolve the incident, "
        "alert on Telegram.",
        "signals": "Write example signal files (healthy or breaching) to watch an incident's life.",
        "list": "List incidents, newest first.",
        "ack": "Acknowledge an incident.",
        "resolve": "Resolve an incident.",
        "silence": "Mute alerts for an issue key until a time.",
        "silences": "List silences (active ones unless --all).",
        "unsilence": "End a silence now.",
        "routes": "Show the configured channels and routes; --test SEVERITY KEY... shows "
        "which channels a scan would use.",
        "note": "Write a note on an incident.",
    }

    def args_scan(self, parser: ArgumentParser) -> None:
        parser.add_argument("--compact", action="store_true", help="One-line JSON output.")

    def do_scan(self, options: dict[str, Any]) -> None:
        self.write_json(services.scan(actor="cli"), indent=None if options["compact"] else 2)

    def args_signals(self, parser: ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--healthy", action="store_true", help="Signals within the SLOs.")
        group.add_argument("--breach", action="store_true", help="Signals that open an incident.")

    def do_signals(self, options: dict[str, Any]) -> None:
        for line in services.write_example_signals(breach=options["breach"]):
            self.stdout.write(line)
        self.stdout.write("now run: manage.py incidents scan")

    def args_list(self, parser: ArgumentParser) -> None:
        parser.add_argument("--status", choices=selectors.STATUS_FILTERS)
        parser.add_argument(
            "--limit",
            type=int,
            default=LIST_DEFAULT,
            help=f"1-{selectors.LIST_LIMIT_MAX} (default {LIST_DEFAULT}).",
        )
        parser.add_argument("--json", action="store_true", help="JSON output.")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = selectors.list_incidents(status=options["status"], limit=options["limit"])
        if options["json"]:
            self.write_json(rows, indent=2)
            return
        if not rows:
            self.stdout.write("No incidents.")
        for row in rows:
            self.stdout.write(
                f"#{row['id']:<5} {row['status']:<12} {row['severity']:<6} "
                f"opened {row['opened_at']}  last seen {row['last_seen_at']}"
            )
            for detail in row["details"]:
                self.stdout.write(f"       • {detail}")

    def args_ack(self, parser: ArgumentParser) -> None:
        parser.add_argument("incident_id", type=int)

    args_resolve = args_ack

    def do_ack(self, options: dict[str, Any]) -> None:
        result = services.acknowledge(incident_id=options["incident_id"], actor="cli")
        verb = "Acknowledged" if result["changed"] else "Already acknowledged:"
        self.stdout.write(f"{verb} incident #{options['incident_id']}.")

    def do_resolve(self, options: dict[str, Any]) -> None:
        result = services.resolve(incident_id=options["incident_id"], actor="cli")
        verb = "Resolved" if result["changed"] else "Already resolved:"
        self.stdout.write(f"{verb} incident #{options['incident_id']}.")

    def args_silence(self, parser: ArgumentParser) -> None:
        parser.add_argument("key", help="slo, payout, cost, ops, ops:<type>, alert, alert:<name>")
        until = parser.add_mutually_exclusive_group(required=True)
        until.add_argument("--until", help="ISO-8601 time (UTC without an offset).")
        until.add_argument(
            "--minutes",
            type=float,
            help=f"Minutes from now (at most {services.MAX_SILENCE_MINUTES}).",
        )
        parser.add_argument("--reason", default="")

    def do_silence(self, options: dict[str, Any]) -> None:
        if options["minutes"] is not None:
            until = services.silence_until(minutes=options["minutes"], now=clock.now())
        else:
            parsed = parse_ts(options["until"])
            if parsed is None:
                raise Invalid(f"--until {options['until']!r} is not an ISO-8601 time.")
            until = parsed
        result = services.create_silence(
            key=options["key"], until=until, reason=options["reason"], actor="cli"
        )
        silence = result["silence"]
        self.stdout.write(f"Silenced {silence['key']} until {silence['until']}.")

    def args_silences(self, parser: ArgumentParser) -> None:
        parser.add_argument("--all", action="store_true", help="Include ended silences.")
        parser.add_argument("--json", action="store_true", help="JSON output.")

    def do_silences(self, options: dict[str, Any]) -> None:
        rows = selectors.list_silences(now=clock.now(), include_expired=options["all"])
        if options["json"]:
            self.write_json(rows, indent=2)
            return
        if not rows:
            self.stdout.write("No silences.")
        for row in rows:
            reason = f"  ({row['reason']})" if row["reason"] else ""
            self.stdout.write(
                f"#{row['id']:<5} {row['key']:<24} until {row['until']}  "
                f"by {row['created_by']}{reason}"
            )

    def args_unsilence(self, parser: ArgumentParser) -> None:
        parser.add_argument("silence_id", type=int)

    def do_unsilence(self, options: dict[str, Any]) -> None:
        result = services.expire_silence(silence_id=options["silence_id"], actor="cli")
        silence = result["silence"]
        self.stdout.write(
            f"Silence #{silence['id']} ({silence['key']}) ended at {silence['until']}."
        )

    def args_routes(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--test",
            nargs="+",
            metavar="ARG",
            help="SEVERITY (MEDIUM or HIGH) then one or more issue keys, e.g. --test HIGH slo",
        )

    def do_routes(self, options: dict[str, Any]) -> None:
        if options["test"]:
            severity, *keys = options["test"]
            if severity not in ("MEDIUM", "HIGH") or not keys:
                raise Invalid("--test takes a severity (MEDIUM or HIGH) and at least one key.")
            for line in routing.explain(severity=severity, keys=keys):
                self.stdout.write(line)
            return
        conf = routing.config()
        if not conf.channels:
            self.stdout.write("No channel configured: alerts are dry runs.")
        for name, channel in conf.channels.items():
            self.stdout.write(f"channel {name:<16} {channel.describe()}")
        for route in conf.routes:
            match = {"severity": route.severity, "key_prefix": route.key_prefix}
            shown = ", ".join(f"{k}={v}" for k, v in match.items() if v) or "everything"
            tiers = "; ".join(
                f"after {t.after_minutes:g} min: {', '.join(t.channels)}" for t in route.tiers
            )
            more = " (continue)" if route.cont else ""
            self.stdout.write(f"route {route.index}: {shown}{more} -> {tiers}")
        for check_id, problem in conf.problems:
            self.stderr.write(f"{check_id}: {problem}")

    def args_note(self, parser: ArgumentParser) -> None:
        parser.add_argument("incident_id", type=int)
        parser.add_argument("text")

    def do_note(self, options: dict[str, Any]) -> None:
        services.add_note(incident_id=options["incident_id"], text=options["text"], actor="cli")
        self.stdout.write(f"Noted on incident #{options['incident_id']}.")
