"""The app's one clock, so tests can move time forward (`monkeypatch` `clock.now`)."""

import time

from django.utils import timezone


def now():
    """Return the current time (aware, UTC)."""
    return timezone.now()


def sleep(seconds: float) -> None:
    """Wait `seconds` (a 429 `retry_after`)."""
    time.sleep(seconds)
