"""Security tests reuse the incidents fixtures: the loopback Bot API, Slack, webhook and
SMTP servers, signal files, the clock."""

from tests.incidents.conftest import (  # noqa: F401 - fixtures
    bot,
    channel_config,
    clock,
    committed,
    hook,
    no_costs,
    signals,
    slack,
    smtp,
    three_channels,
)
