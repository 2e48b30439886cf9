"""Creating, rotating, revoking and listing keys; the secret is shown once.

A key's secret is `ep_` + 64 hex digits (32 random bytes); only its SHA-256 is
stored. A fast hash is right here: a 256-bit random secret cannot be found
from its hash, so a slow password hash would only slow every request down.
Each change is mirrored to logs/access.ndjson (never a secret), drops this
process's key snapshot at once and, after commit, publishes a new stamp so
every other process reloads (`echopilot.access.registry`).
"""

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from echopilot import mirror
from echopilot.access.registry import invalidate, publish_stamp
from echopilot.access.scopes import ALL_SCOPES, SCOPES
from echopilot.exceptions import Conflict, Invalid, NotFound

logger = logging.getLogger("echopilot.access")

# --- limits and parsing ------------------------------------------------------------

STREAM = "access"  # logs/access.ndjson
SECRET_PREFIX = "ep_"
SECRET_BYTES = 32
PREFIX_LENGTH = len(SECRET_PREFIX) + 6  # ep_3fa9c1
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,49}")  # all patterns: fullmatch (no "$\n")
# The actor label of a DASHBOARD_KEY key (echopilot.auth.key_label): a stored
# key may not take one, so `api:<label>` always means one key.
RESERVED_NAME = re.compile(r"k_[0-9a-f]{8}")
DURATION = re.compile(r"([0-9]{1,7})([smhd])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# DRF's SimpleRateThrottle reads the first letter of the period.
RATE = re.compile(r"([1-9][0-9]{0,8})/(s|sec|second|m|min|minute|h|hour|d|day)")
DEFAULT_GRACE = dt.timedelta(hours=24)
MAX_GRACE = dt.timedelta(days=30)


def parse_duration(text: str, *, option: str) -> dt.timedelta:
    """Return the span `90d`, `12h`, `30m` or `45s` names."""
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise Invalid(f"{option} {text!r} is not a duration such as 90d, 12h, 30m or 45s.")
    return dt.timedelta(seconds=int(match[1]) * UNIT_SECONDS[match[2]])


def parse_expiry(text: str | None, *, now: dt.datetime) -> dt.datetime | None:
    """Return when a key given `--expires text` stops working (None: never).

    `90d`/`12h`/`30m` count from now; an ISO date means its midnight UTC, an
    ISO date-time without an offset is UTC.
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if DURATION.fullmatch(text):
        try:
            when = now + parse_duration(text, option="--expires")
        except OverflowError:
            raise Invalid(f"--expires {text!r} is too far in the future.") from None
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(
                f"--expires {text!r} is neither a duration (90d, 12h) nor an ISO date "
                "(2030-01-31 or 2030-01-31T12:00:00Z)."
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    if when <= now:
        raise Invalid(f"--expires {text!r} is in the past ({mirror.now_iso(when)}).")
    return when


def parse_grace(value: str | dt.timedelta | None) -> dt.timedelta:
    """Return the grace period of a rotation (default 24 h, at most 30 days)."""
    if value is None or value == "":
        return DEFAULT_GRACE
    if isinstance(value, dt.timedelta):
        grace = value
    else:
        grace = dt.timedelta(0) if value.strip() == "0" else parse_duration(value, option="--grace")
    if grace < dt.timedelta(0) or grace > MAX_GRACE:
        raise Invalid(f"--grace must lie between 0 and {MAX_GRACE.days}d.")
    return grace


def clean_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise Invalid(
            f"Key name {name!r} is not allowed: 1-50 characters of lowercase letters, digits, "
            "'.', '_' and '-', starting with a letter or digit."
        )
    if RESERVED_NAME.fullmatch(name):
        raise Invalid(f"Key name {name!r} looks like a DASHBOARD_KEY label (k_<8 hex>).")
    return name


def clean_scopes(scopes: Iterable[str] | None) -> list[str]:
    """Return the scopes in canonical order, refusing unknown names and an empty list."""
    given = [s.strip() for s in (scopes or []) if isinstance(s, str)]
    unknown = sorted({s for s in given if s not in ALL_SCOPES})
    if unknown:
        raise Invalid(f"Unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}.")
    if not given:
        raise Invalid(f"Give at least one scope: {', '.join(SCOPES)}.")
    return [s for s in SCOPES if s in given]


def clean_rate(rate: str | None) -> str:
    rate = (rate or "").strip()
    if rate and not RATE.fullmatch(rate):
        raise Invalid(f"--rate {rate!r} is not a rate such as 100/min, 10/s, 5000/hour or 1/day.")
    return rate


@dataclass(frozen=True)
class NewKey:
    """A validated key to create (`validate_new_key`)."""

    name: str
    scopes: list[str]
    expires_at: dt.datetime | None
    rate: str


def validate_new_key(
    *,
    name: str,
    scopes: Iterable[str] | None,
    expires: str | None = None,
    rate: str | None = None,
    now: dt.datetime | None = None,
) -> NewKey:
    """Check everything about a new key (the command and the admin form call this)."""
    from echopilot.models import ApiKey

    now = now or timezone.now()
    new = NewKey(
        name=clean_name(name),
        scopes=clean_scopes(scopes),
        expires_at=parse_expiry(expires, now=now),
        rate=clean_rate(rate),
    )

    if ApiKey.objects.filter(name=new.name).exists():
        raise Conflict(
            f"An API key named {new.name!r} exists already (names are never reused, "
            "even after revocation)."
        )
    return new


# --- secrets ---------------------------------------------------------------------


def hash_secret(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def new_secret() -> tuple[str, str, str]:
    """Return a new (secret, prefix, sha256 hex)."""
    secret = SECRET_PREFIX + secrets.token_hex(SECRET_BYTES)
    return secret, secret[:PREFIX_LENGTH], hash_secret(secret.encode()).hex()


@dataclass(frozen=True)
class IssuedKey:
    """A key just created or rotated, with the secret to show once."""

    info: dict[str, Any]
    # repr=False: a dataclass printed into a log must not carry the secret.
    secret: str = field(repr=False)


def state_of(
    *, revoked_at: dt.datetime | None, expires_at: dt.datetime | None, now: dt.datetime
) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def key_info(key: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return what may be shown of a key: everything but hashes (never a secret)."""
    now = now or timezone.now()
    grace = key.previous_valid_until
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "rate": key.rate or None,
        "state": state_of(revoked_at=key.revoked_at, expires_at=key.expires_at, now=now),
        "created_at": mirror.iso(key.created_at),
        "created_by": key.created_by,
        "last_used_at": mirror.iso(key.last_used_at),
        "expires_at": mirror.iso(key.expires_at),
        "revoked_at": mirror.iso(key.revoked_at),
        "revoked_by": key.revoked_by or None,
        "rotated_at": mirror.iso(key.rotated_at),
        "previous_prefix": key.previous_prefix or None,
        "previous_valid_until": mirror.iso(grace) if grace and grace > now else None,
    }


# --- operations ----------------------------------------------------------------


def apikey_create(
    *,
    name: str,
    scopes: Iterable[str] | None,
    actor: str,
    expires: str | None = None,
    rate: str | None = None,
) -> IssuedKey:
    """Create a key; return it with its secret, which is shown nowhere else."""
    from echopilot.models import ApiKey

    now = timezone.now()
    new = validate_new_key(name=name, scopes=scopes, expires=expires, rate=rate, now=now)
    secret, prefix, digest = new_secret()
    try:
        with transaction.atomic():
            key = ApiKey.objects.create(
                name=new.name,
                prefix=prefix,
                secret_hash=digest,
                scopes=new.scopes,
                rate=new.rate,
                created_at=now,
                created_by=actor,
                expires_at=new.expires_at,
            )
            info = key_info(key, now)
            _record("apikey.created", info, actor)
    except IntegrityError:
        raise Conflict(f"An API key named {new.name!r} exists already.") from None
    logger.info("access: key %s (%s) created by %s", key.name, prefix, actor)
    return IssuedKey(info, secret)


def apikey_rotate(*, name: str, actor: str, grace: str | dt.timedelta | None = None) -> IssuedKey:
    """Give a key a new secret; the old one keeps working for `grace` (default 24 h)."""
    from echopilot.models import ApiKey

    span = parse_grace(grace)
    now = timezone.now()
    secret, prefix, digest = new_secret()
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(name=name).first()
        if key is None:
            raise NotFound(f"No API key named {name!r}.", code="unknown_key")
        state = state_of(revoked_at=key.revoked_at, expires_at=key.expires_at, now=now)
        if state != "active":
            raise Conflict(f"API key {name!r} is {state}: create a new key instead.")
        key.previous_prefix, key.previous_hash = key.prefix, key.secret_hash
        key.previous_valid_until = now + span
        key.prefix, key.secret_hash, key.rotated_at = prefix, digest, now
        key.save(
            update_fields=[
                "previous_prefix",
                "previous_hash",
                "previous_valid_until",
                "prefix",
                "secret_hash",
                "rotated_at",
            ]
        )
        info = key_info(key, now)
        _record("apikey.rotated", info, actor)
    logger.info("access: key %s rotated by %s (grace %s)", name, actor, span)
    return IssuedKey(info, secret)


def apikey_revoke(*, name: str, actor: str) -> dict[str, Any]:
    """Revoke a key (both secrets, at once); revoking a revoked key changes nothing."""
    from echopilot.models import ApiKey

    now = timezone.now()
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(name=name).first()
        if key is None:
            raise NotFound(f"No API key named {name!r}.", code="unknown_key")
        if key.revoked_at is not None:
            return {**key_info(key, now), "changed": False}
        key.revoked_at, key.revoked_by = now, actor
        key.save(update_fields=["revoked_at", "revoked_by"])
        info = key_info(key, now)
        _record("apikey.revoked", info, actor)
    logger.info("access: key %s revoked by %s", name, actor)
    return {**info, "changed": True}


def apikey_list() -> list[dict[str, Any]]:
    """Return every key (revoked ones too), by name, without hashes or secrets."""
    from echopilot.models import ApiKey

    now = timezone.now()
    return [key_info(key, now) for key in ApiKey.objects.order_by("name")]


def _record(event: str, info: dict[str, Any], actor: str) -> None:
    """Mirror the change to logs/access.ndjson and make every process reload its keys."""
    mirror.append(STREAM, {"type": event, "actor": actor, **info})
    # Now, so this process serves the change within its own transaction, and
    # after commit again (a reload in between saw the old rows) with the stamp.
    invalidate()
    transaction.on_commit(_committed, robust=True)


def _committed() -> None:
    invalidate()
    publish_stamp()
