"""Notification channels, a core facility: Telegram, Slack, signed webhooks, e-mail.

Configured from `configs/incidents.json` (in ECHOPILOT_CONFIG_DIR) and the
environment; without the file, Telegram alone from TELEGRAM_BOT_TOKEN and
TELEGRAM_CHAT_ID. Any app may call `configured()` and `announce()`; the
incidents app delivers its alerts through `send_with_retry()` and routes them
with `matching_tiers()`.
"""

import logging
import time

from django.conf import settings

from echopilot.channels.base import (
    MAX_INLINE_WAIT,
    Channel,
    Message,
    SendResult,
    send_with_retry,
)
from echopilot.channels.config import Config, Route, Tier, load

__all__ = [
    "MAX_INLINE_WAIT",
    "Channel",
    "Config",
    "Message",
    "Route",
    "SendResult",
    "Tier",
    "announce",
    "configured",
    "load",
    "matching_tiers",
    "runbooks_for",
    "send_with_retry",
    "timeout",
]

logger = logging.getLogger("echopilot.channels")


def configured() -> dict[str, Channel]:
    """Return the usable channels by name (empty: nothing is sent anywhere)."""
    return load().channels


def timeout() -> float:
    """Seconds one send may take on any channel (TELEGRAM_TIMEOUT, clamped by its check)."""
    value = getattr(settings, "TELEGRAM_TIMEOUT", 10.0)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 10.0
    return value if 0 < value <= 300 else 10.0


def announce(names: list[str], text: str, conf: Config | None = None) -> None:
    """Send `text` once to each named channel (best effort: never raises).

    `conf`: the configuration the caller already loaded (default: load it).
    """
    try:
        channels = conf.channels if conf is not None else configured()
        for name in dict.fromkeys(names):
            channel = channels.get(name)
            if channel is None:
                logger.warning("announce: no configured channel %r", name)
                continue
            message = Message(kind="announce", text=text, data={"kind": "announce", "text": text})
            send_with_retry(channel, message, timeout=timeout(), sleep=time.sleep)
    except Exception:
        logger.exception("announce failed")


def matching_tiers(config: Config, *, severity: str, keys: list[str]) -> list[tuple[str, Tier]]:
    """Return (tier id, tier) of every route matching, Alertmanager style.

    Routes are tried in order; a match stops unless it says `continue`. When no
    route matches (or none is configured) the default is one tier at 0 minutes
    with every configured channel. Tier ids are `<route>.<tier>` ("0.1": the default).
    """
    found: list[tuple[str, Tier]] = []
    for route in config.routes:
        if not route.matches(severity, keys):
            continue
        found += [(f"{route.index}.{n}", t) for n, t in enumerate(route.tiers, 1)]
        if not route.cont:
            break
    if not found:
        found = [("0.1", Tier(0.0, tuple(config.channels)))]
    return found


def runbooks_for(config: Config, keys: list[str]) -> list[dict[str, str]]:
    """Return the runbooks whose pattern (a key prefix; a trailing * is allowed) fits a key."""
    found: dict[str, dict[str, str]] = {}
    for pattern, url in config.runbooks.items():
        prefix = pattern.rstrip("*")
        if any(k.startswith(prefix) for k in keys) and url not in found:
            found[url] = {"pattern": pattern, "url": url}
    return list(found.values())
