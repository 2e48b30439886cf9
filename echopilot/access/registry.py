"""The per-process key registry: every stored secret's hash, in memory.

The hot path (`lookup`, `any_active`) runs no query: the snapshot is reloaded
at the latest every `RELOAD_SECONDS` (2 s; 4 s with Redis), and with
`REDIS_URL` set also as soon as the shared stamp changes (checked every
`STAMP_CHECK_SECONDS`), so a revoked key is refused everywhere within 5 s.
`last_used_at` is written at most once a minute per key per process.
"""

import dataclasses
import datetime as dt
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from django.utils import timezone

from echopilot.access.scopes import granted
from echopilot.exceptions import ServiceError

logger = logging.getLogger("echopilot.access")

RELOAD_SECONDS = 2.0
RELOAD_SECONDS_WITH_STAMP = 4.0
STAMP_CHECK_SECONDS = 0.5
# After a failed reload (database down) the next try waits this long, so an
# outage costs one attempt per second per process, not one per request.
RETRY_SECONDS = 1.0
# With the database unreachable, the last snapshot is used this long, then
# stored keys are refused (KeyStoreUnavailable) rather than trusted stale.
STALE_LIMIT = 30.0
LAST_USED_SECONDS = 60.0
STAMP_KEY = "access:stamp"
# Tests replace these to step time without sleeping.
clock = time.monotonic
wall_clock = time.time


class KeyStoreUnavailable(ServiceError):
    """The keys cannot be read (database down) and the last copy is too old."""

    code = "unavailable"
    default_detail = "The API keys cannot be read right now; try again shortly."


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One accepted secret of a stored key (a rotated key has two)."""

    id: int
    name: str
    scopes: tuple[str, ...]  # as the key was given them
    granted: frozenset[str]  # every scope they satisfy (scopes.granted)
    rate: str
    valid_until: float | None  # epoch seconds; None: no expiry
    revoked: bool

    def refusal(self, now: float) -> str | None:
        """Return why the secret is refused now ("key revoked"/"key expired"), or None."""
        if self.revoked:
            return "key revoked"
        if self.valid_until is not None and now >= self.valid_until:
            return "key expired"
        return None


class Snapshot:
    """Every stored secret's hash -> its entry; never mutated after build."""

    __slots__ = ("keys", "active_until", "stamp")

    def __init__(self, keys: dict[bytes, KeyEntry], active_until: float, stamp: Any):
        self.keys = keys
        self.active_until = active_until  # epoch after which no key is active
        self.stamp = stamp


def _epoch(when: dt.datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def build(stamp: Any) -> Snapshot:
    """Load every key (one query)."""
    from echopilot.models import ApiKey

    keys: dict[bytes, KeyEntry] = {}
    active_until = float("-inf")
    columns = ("id", "name", "scopes", "rate", "secret_hash", "expires_at", "revoked_at")
    rows = ApiKey.objects.values_list(*columns, "previous_hash", "previous_valid_until")
    for pk, name, scopes, rate, digest, expires, revoked, previous, grace in rows:
        scopes = tuple(scopes or ())
        entry = KeyEntry(pk, name, scopes, granted(scopes), rate, _epoch(expires), bool(revoked))
        keys[bytes.fromhex(digest)] = entry
        if previous and grace is not None:
            until = grace if expires is None else min(grace, expires)
            old = dataclasses.replace(entry, valid_until=_epoch(until))
            keys.setdefault(bytes.fromhex(previous), old)
        if not revoked:
            active_until = max(active_until, entry.valid_until or float("inf"))
    return Snapshot(keys, active_until, stamp)


class _State:
    snapshot: Snapshot | None = None
    loaded_at = float("-inf")  # clock() of the last successful build
    checked_at = float("-inf")  # clock() of the last stamp check or build attempt
    generation = 0  # bumped by invalidate(): a racing reload is not kept


_state = _State()
_reload_lock = threading.Lock()
_UNKNOWN = object()  # the stamp could not be read: only the reload interval applies


def use_redis() -> bool:
    return bool(settings.REDIS_URL)


def shared_stamp() -> Any:
    """Return the stamp in Redis (None when absent), or _UNKNOWN when Redis fails."""
    if not use_redis():
        return _UNKNOWN
    try:
        return caches["default"].get(STAMP_KEY)
    except Exception:  # CacheUnavailable, or any client error: the reload interval covers it
        return _UNKNOWN


def publish_stamp() -> None:
    """Tell every process (through Redis, when used) that the keys changed."""
    if not use_redis():
        return
    try:
        caches["default"].set(STAMP_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("access: could not publish the key stamp; processes reload within 4 s")


def _due(now: float) -> bool:
    state = _state
    if state.snapshot is None:
        return True
    if use_redis():
        return (
            now - state.checked_at >= STAMP_CHECK_SECONDS
            or now - state.loaded_at >= RELOAD_SECONDS_WITH_STAMP
        )
    return now - state.loaded_at >= RELOAD_SECONDS and now - state.checked_at >= RETRY_SECONDS


def current() -> Snapshot:
    """Return the key snapshot, reloading it when due (see the module docstring)."""
    state = _state
    now = clock()
    snap = state.snapshot
    if snap is not None and not _due(now):
        return snap
    # While another thread reloads, keep serving the snapshot there is.
    if snap is None:
        _reload_lock.acquire()
    elif not _reload_lock.acquire(blocking=False):
        return snap
    try:
        if not _due(now) and state.snapshot is not None:
            return state.snapshot
        return _refresh(now)
    finally:
        _reload_lock.release()


def _refresh(now: float) -> Snapshot:
    state = _state
    snap, generation = state.snapshot, state.generation
    state.checked_at = now
    stamp = shared_stamp()  # read before the rows: a later change has a newer stamp
    reload_every = RELOAD_SECONDS_WITH_STAMP if use_redis() else RELOAD_SECONDS
    if snap is not None and now - state.loaded_at < reload_every:
        if stamp is _UNKNOWN or stamp == snap.stamp:
            return snap
    try:
        fresh = build(stamp)
    except DatabaseError:
        if snap is None or now - state.loaded_at > STALE_LIMIT:
            raise KeyStoreUnavailable() from None
        logger.warning("access: cannot reload the API keys; using the copy loaded before")
        return snap
    if state.generation == generation:
        state.snapshot, state.loaded_at = fresh, now
    return fresh


def lookup(digest: bytes) -> KeyEntry | None:
    """Return the stored key whose secret hashes to `digest` (valid or not), else None.

    A dict look-up by hash reveals nothing about a secret through its timing:
    what it compares are SHA-256 digests of what the caller sent, and no one
    can choose a string whose digest shares a prefix with a stored one.
    """
    return current().keys.get(digest)


def any_active() -> bool:
    """Return whether some stored key is neither revoked nor expired."""
    return wall_clock() < current().active_until


_last_marked: dict[int, float] = {}


def mark_used(entry: KeyEntry) -> None:
    """Record that a key was used: at most once a minute per key in this process."""
    now = clock()
    if now - _last_marked.get(entry.id, float("-inf")) < LAST_USED_SECONDS:
        return
    _last_marked[entry.id] = now
    from echopilot.models import ApiKey

    try:
        ApiKey.objects.filter(pk=entry.id).update(last_used_at=timezone.now())
    except DatabaseError:
        logger.warning("access: could not record the use of key %s", entry.name)


def invalidate() -> None:
    """Drop this process's snapshot so the next request reloads it."""
    _state.generation += 1
    _state.snapshot = None
    _state.loaded_at = _state.checked_at = float("-inf")


def reset() -> None:
    """Forget everything this process holds about keys (a new process starts so)."""
    invalidate()
    _last_marked.clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    # A different DASHBOARD_KEY or cache (tests' override_settings) is another
    # installation: what was loaded for the previous one must not be served.
    if setting in {"DASHBOARD_KEY", "REDIS_URL", "CACHES", "DATABASES"}:
        reset()
