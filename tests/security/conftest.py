"""Security tests reuse the incidents fixtures: the loopback Bot API, signal files, the clock."""

from tests.incidents.conftest import (  # noqa: F401 - fixtures
    bot,
    clock,
    committed,
    no_costs,
    signals,
)
