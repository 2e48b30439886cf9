"""`manage.py incident_scan`: the seed's name for `manage.py incidents scan`."""

from echopilot.commands import alias
from incidents.management.commands.incidents import Command as Incidents

Command = alias(Incidents, "scan")
