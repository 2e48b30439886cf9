"""`manage.py support_digest`: the seed's name for `manage.py support digest`."""

from echopilot.commands import alias
from support.management.commands.support import Command as Support

Command = alias(Support, "digest")
