"""`manage.py incident_signals`: the seed's name for `manage.py incidents signals`."""

from echopilot.commands import alias
from incidents.management.commands.incidents import Command as Incidents

Command = alias(Incidents, "signals")
