"""Silences: mute alerts for an issue key (and the keys below it) until a time."""

import datetime as dt
import re
from typing import Any

from django.db import transaction

from echopilot import mirror
from incidents import clock
from incidents.models import Silence
from incidents.selectors import silence_dict
from incidents.services.common import STREAM, SilenceInvalid, SilenceNotFound

# Longest silence: muting a key for longer is a mistake (and far-future times
# overflow when converted). The API, the admin form and `incidents silence
# --minutes/--until` all go through validate_silence()/silence_until().
MAX_SILENCE_DAYS = 3650
MAX_SILENCE = dt.timedelta(days=MAX_SILENCE_DAYS)
MAX_SILENCE_MINUTES = MAX_SILENCE_DAYS * 24 * 60
# Silence.key and Silence.reason columns (the serializer and the admin form use these).
SILENCE_KEY_MAX = 200
SILENCE_REASON_MAX = 500
SILENCE_KEY = re.compile(r"^(slo|payout|cost|ops|alert|self)(:[^\s]{1,190})?$")


def active_silences(now: dt.datetime) -> list[Silence]:
    return list(Silence.objects.filter(until__gt=now))


def silence_until(*, minutes: float, now: dt.datetime) -> dt.datetime:
    """Return the end of a silence `minutes` long; raise SilenceInvalid if out of range."""
    if not 0 < minutes <= MAX_SILENCE_MINUTES:  # also NaN and inf
        raise SilenceInvalid(
            f"'minutes' must be above 0 and at most {MAX_SILENCE_MINUTES}.", field="minutes"
        )
    return now + dt.timedelta(minutes=minutes)


def validate_silence(*, key: str, until: dt.datetime, now: dt.datetime) -> tuple[str, dt.datetime]:
    """Return the key and `until` (UTC) to store; raise SilenceInvalid (also used by the admin)."""
    key = key.strip()
    if not SILENCE_KEY.match(key):
        raise SilenceInvalid(
            f"Unknown issue key {key!r}: use slo, payout, cost, ops, ops:<type>, alert or "
            "alert:<name>.",
            field="key",
        )
    if until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    # Compare before converting: 9999-12-31T23:59:59-05:00 cannot be put in UTC.
    if until <= now:
        raise SilenceInvalid("'until' must be in the future.", field="until")
    if until - now > MAX_SILENCE:
        raise SilenceInvalid(
            f"'until' must be at most {MAX_SILENCE_DAYS} days ahead.", field="until"
        )
    return key, until.astimezone(dt.UTC)


def create_silence(
    *, key: str, until: dt.datetime, reason: str = "", actor: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Mute alerts for `key` (and the keys below it) until `until`."""
    now = now or clock.now()
    key, until = validate_silence(key=key, until=until, now=now)
    with transaction.atomic():
        silence = Silence.objects.create(
            key=key,
            until=until,
            reason=reason.strip()[:SILENCE_REASON_MAX],
            created_at=now,
            created_by=actor,
        )
        mirror.append(STREAM, {"type": "silence_created", "actor": actor, **silence_dict(silence)})
    return {"ok": True, "silence": silence_dict(silence)}


def expire_silence(
    *, silence_id: int, actor: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """End a silence now (one that has already ended is left as it is)."""
    now = now or clock.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().filter(pk=silence_id).first()
        if silence is None:
            raise SilenceNotFound(f"No silence with id {silence_id}.")
        if silence.until > now:
            silence.until = now
            silence.save(update_fields=["until"])
            mirror.append(
                STREAM, {"type": "silence_expired", "actor": actor, **silence_dict(silence)}
            )
    return {"ok": True, "silence": silence_dict(silence)}
