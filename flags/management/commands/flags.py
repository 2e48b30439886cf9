"""`manage.py flags list|get|set|history|revert|load|export|schedule|schedules|cancel|stale`.

Errors exit with the domain error's code (echopilot.commands): 2 invalid input
(a bad VALUE, option or config file), 3 unknown flag or history row, 4 a
revert that conflicts with the flag.
"""

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from echopilot.commands import AppCommand
from echopilot.exceptions import Invalid
from flags import config, reports, scheduling, selectors, services
from flags.engine import TYPES, FlagError
from flags.limits import (
    HISTORY_DEFAULT,
    HISTORY_MAX,
    HISTORY_MIN,
    STALE_DAYS_MAX,
    STALE_DAYS_MIN,
    STALE_STATIC_DEFAULT,
    STALE_UNUSED_DEFAULT,
)
from flags.models import ScheduleState

ACTOR = "cli"
CONFIG_FILE = "Another file (default: <config dir>/flags.json)."


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Invalid(f"{what}: not valid JSON: {text!r}") from None


def _value(text: str) -> Any:
    """Return VALUE as JSON (`true`, `42`, `'{"a": 1}'`); other text is a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _change_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Return the flag fields `flags set` was given (the others stay as they are)."""
    fields = {}
    if options["value"] is not None:
        fields["value"] = _value(options["value"])
    if options["rules"] is not None:
        fields["rules"] = _parse_json(options["rules"], "--rules")
    if options["rollout"] is not None:
        fields["rollout"] = _parse_json(options["rollout"], "--rollout")
    for name in ("description", "enabled", "archived"):
        if options[name] is not None:
            fields[name] = options[name]
    return fields


class Command(AppCommand):
    help = "Feature flags: list, get, set, history, revert, load (configs/flags.json), export."
    actions = {
        "list": "Every flag with type, value and targeting.",
        "get": "Evaluate a flag (optionally for a context).",
        "set": "Change a flag (VALUE is JSON; other text is a string).",
        "history": "Change history, newest first.",
        "revert": "Undo one history row.",
        "load": "Load configs/flags.json (creates; keeps changes).",
        "export": "Write every flag to configs/flags.json (v2 form).",
        "schedule": "Schedule a change of a flag at a time (ISO-8601 with a zone).",
        "schedules": "Scheduled changes, soonest first.",
        "cancel": "Cancel a pending scheduled change.",
        "stale": "Flags not evaluated lately, or serving one value to everyone.",
    }

    def args_list(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")
        parser.add_argument("--all", action="store_true", help="Include archived flags.")

    def args_get(self, parser: ArgumentParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--context", help='JSON object, e.g. \'{"targetingKey": "u1"}\'.')

    def args_set(self, parser: ArgumentParser) -> None:
        parser.add_argument("key")
        parser.add_argument("value", nargs="?", help="New value: true, 42, 1.5, '\"text\"', '{}'.")
        parser.add_argument("--create", action="store_true", help="Create the flag if missing.")
        parser.add_argument("--type", choices=TYPES, help="Type on creation (or with --retype).")
        parser.add_argument("--retype", action="store_true", help="Allow changing the type.")
        parser.add_argument("--description")
        parser.add_argument("--rules", help="JSON list of targeting rules.")
        parser.add_argument("--rollout", help='JSON rollout object, or "null" to remove it.')
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", dest="enabled", action="store_true", default=None)
        switch.add_argument("--disable", dest="enabled", action="store_false")
        archive = parser.add_mutually_exclusive_group()
        archive.add_argument("--archive", dest="archived", action="store_true", default=None)
        archive.add_argument("--unarchive", dest="archived", action="store_false")

    def args_history(self, parser: ArgumentParser) -> None:
        parser.add_argument("key", nargs="?")
        parser.add_argument(
            "--limit",
            type=int,
            default=HISTORY_DEFAULT,
            help=f"Rows to show, {HISTORY_MIN}-{HISTORY_MAX} (default {HISTORY_DEFAULT}).",
        )
        parser.add_argument("--json", action="store_true", help="One JSON row per line.")

    def args_revert(self, parser: ArgumentParser) -> None:
        parser.add_argument("change_id", type=int)

    def args_load(self, parser: ArgumentParser) -> None:
        parser.add_argument("--path", help=CONFIG_FILE)
        parser.add_argument(
            "--overwrite", action="store_true", help="Overwrite changed values too."
        )

    def args_export(self, parser: ArgumentParser) -> None:
        parser.add_argument("--path", help=CONFIG_FILE)

    def args_schedule(self, parser: ArgumentParser) -> None:
        parser.add_argument("key")
        parser.add_argument("at", help="When, ISO-8601 with a zone: 2026-12-01T09:00:00Z.")
        parser.add_argument("--value", help="New value (JSON; other text is a string).")
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", dest="enabled", action="store_true", default=None)
        switch.add_argument("--disable", dest="enabled", action="store_false")
        parser.add_argument("--rules", help="JSON list of targeting rules.")
        parser.add_argument("--rollout", help='JSON rollout object, or "null".')
        parser.add_argument("--note", default="", help="Why (shown in lists).")

    def args_schedules(self, parser: ArgumentParser) -> None:
        parser.add_argument("key", nargs="?")
        parser.add_argument("--state", choices=ScheduleState.values)
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def args_cancel(self, parser: ArgumentParser) -> None:
        parser.add_argument("schedule_id", type=int)

    def args_stale(self, parser: ArgumentParser) -> None:
        days = f"{STALE_DAYS_MIN}-{STALE_DAYS_MAX}"
        parser.add_argument(
            "--unused-days", type=int, default=STALE_UNUSED_DEFAULT, help=f"Days, {days}."
        )
        parser.add_argument(
            "--static-days", type=int, default=STALE_STATIC_DEFAULT, help=f"Days, {days}."
        )
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def do_schedule(self, options: dict[str, Any]) -> None:
        change = _change_fields({**options, "description": None, "archived": None})
        try:
            at = dt.datetime.fromisoformat(options["at"])
        except ValueError:
            raise Invalid(f"AT: not an ISO-8601 date-time: {options['at']!r}") from None
        row = scheduling.schedule_create(
            key=options["key"], at=at, change=change, note=options["note"], actor=ACTOR
        )
        self.stdout.write(
            f"scheduled change {row['id']}: {row['key']} {_json(change)} at {row['at']}"
        )

    def do_schedules(self, options: dict[str, Any]) -> None:
        for row in scheduling.schedule_list(key=options["key"], state=options["state"]):
            if options["json"]:
                self.stdout.write(_json(row))
                continue
            extra = f" ({row['error']})" if row["error"] else ""
            self.stdout.write(
                f"{row['id']:>6} {row['at']} {row['key']} {_json(row['change'])} "
                f"{row['state']}{extra} by {row['created_by']}"
            )

    def do_cancel(self, options: dict[str, Any]) -> None:
        row = scheduling.schedule_cancel(schedule_id=options["schedule_id"], actor=ACTOR)
        self.stdout.write(f"cancelled change {row['id']}: {row['key']} {_json(row['change'])}")

    def do_stale(self, options: dict[str, Any]) -> None:
        for name in ("unused_days", "static_days"):
            if not STALE_DAYS_MIN <= options[name] <= STALE_DAYS_MAX:
                raise Invalid(f"--{name.replace('_', '-')}: {STALE_DAYS_MIN}-{STALE_DAYS_MAX}.")
        rows = reports.stale_flags(
            unused_days=options["unused_days"], static_days=options["static_days"]
        )
        for row in rows:
            if options["json"]:
                self.stdout.write(_json(row))
            else:
                self.stdout.write(
                    f"{row['key']:40} {row['reason']:7} since {row['since']} "
                    f"value {_json(row['value'])} last evaluated {row['last_evaluated'] or 'never'}"
                )

    def do_list(self, options: dict[str, Any]) -> None:
        for flag in selectors.list_flags(include_archived=options["all"]):
            if options["json"]:
                self.stdout.write(_json({"key": flag.key, **services.flag_spec(flag)}))
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

    def do_get(self, options: dict[str, Any]) -> None:
        key = options["key"]
        context = _parse_json(options["context"], "--context") if options["context"] else {}
        if not isinstance(context, dict):
            raise Invalid("--context must be a JSON object.")
        try:
            value, variant, reason = selectors.evaluate(key, context)
        except FlagError as exc:
            raise selectors.evaluation_error(exc, f"{key}: {exc.detail} ({exc.code})") from None
        self.stdout.write(_json({"key": key, "value": value, "variant": variant, "reason": reason}))

    def do_set(self, options: dict[str, Any]) -> None:
        fields = _change_fields(options)
        if not fields and not options["create"]:
            raise Invalid("Nothing to set: give a VALUE or an option.")
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

    def do_history(self, options: dict[str, Any]) -> None:
        for row in selectors.history(key=options["key"], limit=options["limit"]):
            if options["json"]:
                self.stdout.write(_json(row))
            else:
                self.stdout.write(
                    f"{row['id']:>6} {row['ts_iso']} {row['key']}.{row['field']}: "
                    f"{_json(row['old'])} -> {_json(row['new'])} by {row['actor']}"
                )

    def do_revert(self, options: dict[str, Any]) -> None:
        change_id = options["change_id"]
        result = services.flag_revert(change_id=change_id, actor=ACTOR)
        if not result.changes:
            self.stdout.write(f"{result.key}: already as before change {change_id}")
        for row in result.changes:
            self.stdout.write(
                f"reverted change {change_id}: {result.key}.{row['field']} "
                f"{_json(row['old'])} -> {_json(row['new'])} (change {row['id']})"
            )

    def do_load(self, options: dict[str, Any]) -> None:
        try:
            result = config.flags_load(path=options["path"], overwrite=options["overwrite"])
        except config.ConfigError as exc:
            raise Invalid(f"flags load: {exc}") from None
        for key, fields in result.kept.items():
            self.stdout.write(
                f"kept {key}: {', '.join(fields)} changed since (use --overwrite to replace)"
            )
        self.stdout.write(
            f"flags: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.kept)} kept, {len(result.unchanged)} unchanged ({result.path})"
        )

    def do_export(self, options: dict[str, Any]) -> None:
        path, count = config.flags_export(path=options["path"])
        self.stdout.write(f"exported {count} flags to {path}")
