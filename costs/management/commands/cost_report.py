"""`manage.py cost_report`: the seed's name for `manage.py costs report`."""

from costs.management.commands.costs import Command as Costs
from echopilot.commands import alias

Command = alias(Costs, "report")
