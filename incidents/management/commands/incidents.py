import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from echopilot.errors import ApiError
from echopilot.renderers import dumps
from incidents import clock, selectors, services
from incidents.sources import parse_ts


class Command(BaseCommand):
    help = "List, acknowledge or resolve incidents, and create silences."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="List incidents, newest first.")
        ls.add_argument("--status", choices=["open", "acknowledged", "resolved", "active"])
        ls.add_argument("--limit", type=int, default=20)
        ls.add_argument("--json", action="store_true", help="JSON output.")
        for name, text in (
            ("ack", "Acknowledge an incident."),
            ("resolve", "Resolve an incident."),
        ):
            cmd = sub.add_parser(name, help=text)
            cmd.add_argument("incident_id", type=int)
        silence = sub.add_parser("silence", help="Mute alerts for an issue key until a time.")
        silence.add_argument("key", help="slo, payout, cost, ops, ops:<type>, alert:<name>")
        until = silence.add_mutually_exclusive_group(required=True)
        until.add_argument("--until", help="ISO-8601 time (UTC without an offset).")
        until.add_argument("--minutes", type=float, help="Minutes from now.")
        silence.add_argument("--reason", default="")

    def handle(self, *args, **options):
        try:
            getattr(self, f"do_{options['action']}")(options)
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from None

    def do_list(self, options):
        if not 1 <= options["limit"] <= 500:
            raise CommandError("--limit must be between 1 and 500.")
        rows = selectors.list_incidents(status=options["status"], limit=options["limit"])
        if options["json"]:
            self.stdout.write(dumps(rows, indent=2))
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

    def do_ack(self, options):
        result = services.acknowledge(incident_id=options["incident_id"], actor="cli")
        verb = "Acknowledged" if result["changed"] else "Already acknowledged:"
        self.stdout.write(f"{verb} incident #{options['incident_id']}.")

    def do_resolve(self, options):
        result = services.resolve(incident_id=options["incident_id"], actor="cli")
        verb = "Resolved" if result["changed"] else "Already resolved:"
        self.stdout.write(f"{verb} incident #{options['incident_id']}.")

    def do_silence(self, options):
        if options["minutes"] is not None:
            minutes = options["minutes"]
            limit = services.MAX_SILENCE / dt.timedelta(minutes=1)
            if not 0 < minutes <= limit:  # also NaN and inf
                raise CommandError(f"--minutes must be above 0 and at most {limit:.0f}.")
            until = clock.now() + dt.timedelta(minutes=minutes)
        else:
            until = parse_ts(options["until"])
            if until is None:
                raise CommandError(f"--until {options['until']!r} is not an ISO-8601 time.")
        result = services.create_silence(
            key=options["key"], until=until, reason=options["reason"], actor="cli"
        )
        silence = result["silence"]
        self.stdout.write(f"Silenced {silence['key']} until {silence['until']}.")
