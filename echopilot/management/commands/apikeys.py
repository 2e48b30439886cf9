"""`manage.py apikeys create|list|revoke|rotate`: named API keys.

`create` and `rotate` print the secret once, alone on the last line, so a
script can take it with `tail -n1`; it is shown nowhere else. Errors exit with
the domain error's code (echopilot.commands): 2 invalid input (unknown scope,
no scope, bad name, past or unparseable expiry, bad rate or grace), 3 unknown
key, 4 a name already taken or a key that is revoked or expired.
"""

from argparse import ArgumentParser
from typing import Any

from echopilot import access
from echopilot.commands import AppCommand

ACTOR = "cli"
COLUMNS = ("name", "prefix", "scopes", "state", "created", "last used", "expires")


def _day(iso: str | None) -> str:
    return iso or "—"


class Command(AppCommand):
    help = "Named API keys with scopes: create, list, revoke, rotate."
    actions = {
        "create": "Create a key and print its secret (once, on the last line).",
        "list": "Every key: name, prefix, scopes, dates and state (never a secret).",
        "revoke": "Refuse a key from now on (both its secrets).",
        "rotate": "Give a key a new secret; the old one works for the grace period.",
    }

    def args_create(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="Who holds the key (the actor is api:NAME).")
        parser.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            metavar="SCOPE",
            help=f"Repeatable: {', '.join(access.SCOPES)}.",
        )
        parser.add_argument(
            "--expires", help="90d, 12h, or an ISO date/date-time (UTC); default: never."
        )
        parser.add_argument(
            "--rate", help="The key's own throttle rate, e.g. 100/min (else API_THROTTLE_RATE)."
        )

    def args_list(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def args_revoke(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")

    def args_rotate(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--grace",
            help="How long the old secret keeps working: 24h (default), 30m, 7d, 0 for none.",
        )

    def do_create(self, options: dict[str, Any]) -> None:
        issued = access.apikey_create(
            name=options["name"],
            scopes=options["scopes"],
            actor=ACTOR,
            expires=options["expires"],
            rate=options["rate"],
        )
        info = issued.info
        self.stdout.write(
            f"created API key {info['name']} ({info['prefix']}…): scopes "
            f"{', '.join(info['scopes'])}; expires {info['expires_at'] or 'never'}; "
            f"rate {info['rate'] or 'API_THROTTLE_RATE'}"
        )
        self._secret(issued.secret)

    def do_rotate(self, options: dict[str, Any]) -> None:
        issued = access.apikey_rotate(name=options["name"], actor=ACTOR, grace=options["grace"])
        info = issued.info
        until = info["previous_valid_until"]
        old = (
            f"the old secret ({info['previous_prefix']}…) works until {until}"
            if until
            else (f"the old secret ({info['previous_prefix']}…) is refused from now on")
        )
        self.stdout.write(f"rotated API key {info['name']}: new prefix {info['prefix']}…; {old}")
        self._secret(issued.secret)

    def _secret(self, secret: str) -> None:
        self.stdout.write("The secret follows, alone on the last line; it is not shown again.")
        self.stdout.write(secret)

    def do_revoke(self, options: dict[str, Any]) -> None:
        info = access.apikey_revoke(name=options["name"], actor=ACTOR)
        if info["changed"]:
            self.stdout.write(f"revoked API key {info['name']} at {info['revoked_at']}")
        else:
            self.stdout.write(f"API key {info['name']} was already revoked at {info['revoked_at']}")

    def do_list(self, options: dict[str, Any]) -> None:
        keys = access.apikey_list()
        if options["json"]:
            for info in keys:
                self.write_json(info)
            return
        rows = [
            (
                k["name"],
                f"{k['prefix']}…",
                ",".join(k["scopes"]),
                k["state"] + (" (rotating)" if k["previous_valid_until"] else ""),
                _day(k["created_at"]),
                _day(k["last_used_at"]),
                _day(k["expires_at"]),
            )
            for k in keys
        ]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
        for row in [COLUMNS, *rows]:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        if not rows:
            self.stdout.write("(no stored keys; DASHBOARD_KEY keys are not listed)")
