"""One management command per app: `manage.py <app> <action> [options]`.

An app's command subclasses `AppCommand`, lists its `actions` and defines, for
each, `args_<action>(parser)` (optional) and `do_<action>(options)`. A
`ServiceError` raised by the service becomes a `CommandError` carrying the
error's exit code, so scripts can tell "not found" from "invalid". `alias()`
keeps a seed command name (`support_digest`) as a thin name for one action.
"""

from argparse import ArgumentParser
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError

from echopilot.exceptions import ServiceError
from echopilot.renderers import dumps


def _method(prefix: str, action: str) -> str:
    return f"{prefix}_{action.replace('-', '_')}"


class AppCommand(BaseCommand):
    """Dispatch `<action>` to `do_<action>`; map domain errors to exit codes."""

    # action name -> one line of help, in the order `--help` lists them
    actions: ClassVar[dict[str, str]] = {}

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for name, text in self.actions.items():
            self.add_action_arguments(name, sub.add_parser(name, help=text, description=text))

    def add_action_arguments(self, action: str, parser: ArgumentParser) -> None:
        adder = getattr(self, _method("args", action), None)
        if adder is not None:
            adder(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.run_action(options.pop("action"), options)

    def run_action(self, action: str, options: dict[str, Any]) -> None:
        try:
            getattr(self, _method("do", action))(options)
        except ServiceError as exc:
            raise CommandError(exc.detail, returncode=exc.exit_code) from None

    def write_json(self, value: Any, *, indent: int | None = None) -> None:
        """Print `value` as JSON (compact unless `indent`), never NaN."""
        self.stdout.write(dumps(value, indent=indent or None))


def alias(command: type[AppCommand], action: str) -> type[AppCommand]:
    """Return a command that runs one `action` of `command` under an older name."""

    app = command.__module__.rsplit(".", 1)[-1]

    class Alias(command):  # type: ignore[valid-type,misc]
        help = f"{command.actions[action]} (Same as `manage.py {app} {action}`.)"

        def add_arguments(self, parser: ArgumentParser) -> None:
            self.add_action_arguments(action, parser)

        def handle(self, *args: Any, **options: Any) -> None:
            self.run_action(action, options)

    return Alias
