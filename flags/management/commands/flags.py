"""`manage.py flags list|get|set|history|revert|load|export`: the flags CLI."""

import json

from django.core.management.base import BaseCommand, CommandError

from echopilot.errors import ApiError
from flags import config, selectors, services
from flags.engine import TYPES, FlagError

ACTOR = "cli"


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _parse_json(text: str, what: str):
    try:
        return json.loads(text)
    except ValueError:
        raise CommandError(f"{what}: not valid JSON: {text!r}") from None


class Command(BaseCommand):
    help = "Feature flags: list, get, set, history, revert, load (configs/flags.json), export."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        p = sub.add_parser("list", help="Every flag with type, value and targeting.")
        p.add_argument("--json", action="store_true", help="One JSON object per line.")
        p.add_argument("--all", action="store_true", help="Include archived flags.")

        p = sub.add_parser("get", help="Evaluate a flag (optionally for a context).")
        p.add_argument("key")
        p.add_argument("--context", help='JSON object, e.g. \'{"targetingKey": "u1"}\'.')

        p = sub.add_parser("set", help="Change a flag (VALUE is JSON; other text is a string).")
        p.add_argument("key")
        p.add_argument("value", nargs="?", help="New value: true, 42, 1.5, '\"text\"', '{}'.")
        p.add_argument("--create", action="store_true", help="Create the flag if missing.")
        p.add_argument("--type", choices=TYPES, help="Type on creation (or with --retype).")
        p.add_argument("--retype", action="store_true", help="Allow changing the type.")
        p.add_argument("--description")
        p.add_argument("--rules", help="JSON list of targeting rules.")
        p.add_argument("--rollout", help='JSON rollout object, or "null" to remove it.')
        switch = p.add_mutually_exclusive_group()
        switch.add_argument("--enable", dest="enabled", action="store_true", default=None)
        switch.add_argument("--disable", dest="enabled", action="store_false")
        archive = p.add_mutually_exclusive_group()
        archive.add_argument("--archive", dest="archived", action="store_true", default=None)
        archive.add_argument("--unarchive", dest="archived", action="store_false")

        p = sub.add_parser("history", help="Change history, newest first.")
        p.add_argument("key", nargs="?")
        p.add_argument("--limit", type=int, default=50)
        p.add_argument("--json", action="store_true", help="One JSON row per line.")

        p = sub.add_parser("revert", help="Undo one history row.")
        p.add_argument("change_id", type=int)

        p = sub.add_parser("load", help="Load configs/flags.json (creates; keeps changes).")
        p.add_argument("--path", help="Another file (default: <config dir>/flags.json).")
        p.add_argument("--overwrite", action="store_true", help="Overwrite changed values too.")

        p = sub.add_parser("export", help="Write every flag to configs/flags.json (v2 form).")
        p.add_argument("--path", help="Another file (default: <config dir>/flags.json).")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            getattr(self, f"do_{action}")(options)
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from None
        except config.ConfigError as exc:
            raise CommandError(f"flags load: {exc}") from None

    def do_list(self, options):
        for flag in selectors.list_flags(include_archived=options["all"]):
            spec = services.flag_spec(flag)
            if options["json"]:
                self.stdout.write(_json({"key": flag.key, **spec}))
                continue
            extras = []
            if not flag.enabled:
                extras.append("disabled")
            if flag.archived:
                extras.append("archived")
            if flag.rules:
                extras.append(f"{len(flag.rules)} rule(s)")
            if flag.rollout:
                extras.append(f"rollout {flag.rollout['percentage']}%")
            self.stdout.write(
                f"{flag.key:40} {flag.type:8} {_json(flag.value):20} {', '.join(extras)}".rstrip()
            )

    def do_get(self, options):
        context = _parse_json(options["context"], "--context") if options["context"] else {}
        if not isinstance(context, dict):
            raise CommandError("--context must be a JSON object.")
        try:
            value, variant, reason = selectors.evaluate(options["key"], context)
        except FlagError as exc:
            raise CommandError(f"{options['key']}: {exc.detail} ({exc.code})") from None
        self.stdout.write(
            _json({"key": options["key"], "value": value, "variant": variant, "reason": reason})
        )

    def do_set(self, options):
        fields = {}
        if options["value"] is not None:
            try:
                fields["value"] = json.loads(options["value"])
            except ValueError:
                fields["value"] = options["value"]  # plain text is a string value
        if options["rules"] is not None:
            fields["rules"] = _parse_json(options["rules"], "--rules")
        if options["rollout"] is not None:
            fields["rollout"] = _parse_json(options["rollout"], "--rollout")
        for name in ("description", "enabled", "archived"):
            if options[name] is not None:
                fields[name] = options[name]
        if not fields and not options["create"]:
            raise CommandError("Nothing to set: give a VALUE or an option.")
        result = services.flag_set(
            key=options["key"],
            actor=ACTOR,
            create=options["create"],
            type=options["type"],
            retype=options["retype"],
            **fields,
        )
        if result.created:
            self.stdout.write(f"created {result.key} ({result.type}) = {_json(result.value)}")
        elif not result.changes:
            self.stdout.write(f"{result.key}: nothing changed")
        else:
            for row in result.changes:
                self.stdout.write(
                    f"{result.key}.{row['field']}: {_json(row['old'])} -> {_json(row['new'])}"
                    f" (change {row['id']})"
                )

    def do_history(self, options):
        if not 1 <= options["limit"] <= 1000:
            raise CommandError("--limit must be 1-1000.")
        key = options["key"]
        if key is not None and not selectors.flag_exists(key):
            raise CommandError(f"No flag {key!r}.")
        for row in selectors.history(key=key, limit=options["limit"]):
            if options["json"]:
                self.stdout.write(_json(row))
            else:
                self.stdout.write(
                    f"{row['id']:>6} {row['ts_iso']} {row['key']}.{row['field']}: "
                    f"{_json(row['old'])} -> {_json(row['new'])} by {row['actor']}"
                )

    def do_revert(self, options):
        result = services.flag_revert(change_id=options["change_id"], actor=ACTOR)
        if not result.changes:
            self.stdout.write(f"{result.key}: already as before change {options['change_id']}")
        for row in result.changes:
            self.stdout.write(
                f"reverted change {options['change_id']}: {result.key}.{row['field']} "
                f"{_json(row['old'])} -> {_json(row['new'])} (change {row['id']})"
            )

    def do_load(self, options):
        result = config.flags_load(path=options["path"], overwrite=options["overwrite"])
        for key, fields in result.kept.items():
            self.stdout.write(
                f"kept {key}: {', '.join(fields)} changed since (use --overwrite to replace)"
            )
        self.stdout.write(
            f"flags: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.kept)} kept, {len(result.unchanged)} unchanged ({result.path})"
        )

    def do_export(self, options):
        path, count = config.flags_export(path=options["path"])
        self.stdout.write(f"exported {count} flags to {path}")
