"""Security tests reuse the incidents fixtures: the loopback Bot API, signal files, the clock."""

from tests.incidents.conftest import bot, clock, no_costs, signals  # noqa: F401 - fixtures
