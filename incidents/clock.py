"""The app's one clock, so tests can move time forward (`monkeypatch` `clock.now`)."""

import datetime as dt
import time

from django.utils import timezone
from django.utils.formats import date_format


def now():
    """Return the current time (aware, UTC)."""
    return timezone.now()


def sleep(seconds: float) -> None:
    """Wait `seconds` (a 429 `retry_after`)."""
    time.sleep(seconds)


def shown(when: dt.datetime) -> str:
    """Return `when` as the console shows every date: `2026-11-27 03:52 UTC`."""
    return date_format(when.astimezone(dt.UTC), "DATETIME_FORMAT")
