"""The per-process flag snapshot and the shared version stamp.

Each process evaluates from an immutable `Snapshot` of every flag. At most
once per `CHECK_INTERVAL` seconds a read compares the shared stamp with the
one the snapshot was built from: in Redis (the Django cache) when
`settings.REDIS_URL` is set, otherwise with one primary-key SELECT. Between
checks a read does no I/O at all. Every change replaces the stamp in the
same transaction (`services._bump_stamp`) and, after commit, in the cache,
so any process serves it within one second.

The stamp is read *before* the flags are loaded: a change committed after
the load always carries a newer stamp, so it is never missed, at worst
loaded twice.
"""

import logging
import threading
import time
import uuid
from types import MappingProxyType

from django.conf import settings
from django.core.cache import caches

from flags.engine import CompiledFlag, InvalidFlag, compile_flag

logger = logging.getLogger("flags")

CHECK_INTERVAL = 1.0
CACHE_KEY = "flags:stamp"
# The Redis copy expires so a lost publish (Redis briefly down) heals by itself:
# the next reader copies the database stamp back.
CACHE_TTL = 60
# Tests replace this to step time without sleeping.
clock = time.monotonic


class Snapshot:
    """All live (not archived) flags of one stamp; never mutated after build."""

    __slots__ = ("stamp", "flags", "values", "count")

    def __init__(self, stamp: str, flags: dict[str, CompiledFlag]):
        self.stamp = stamp
        self.flags = MappingProxyType(flags)
        # The `flags` of GET /api/flags/get, built once per snapshot. A plain
        # dict so the JSON renderer takes it as is; callers must not mutate it.
        self.values = {k: f.value for k, f in sorted(flags.items())}
        self.count = len(flags)


class _State:
    snapshot: Snapshot | None = None
    checked_at = float("-inf")
    # Bumped by invalidate(): a reload that raced with a local change is not kept.
    generation = 0


_state = _State()
_reload_lock = threading.Lock()


def use_redis() -> bool:
    return bool(settings.REDIS_URL)


def db_stamp() -> str:
    """Return the stamp stored with the flags (one primary-key SELECT)."""
    from flags.models import FlagStamp

    stamp = FlagStamp.objects.filter(pk=1).values_list("stamp", flat=True).first()
    return stamp or "none"


def shared_stamp() -> str:
    """Return the current shared stamp (Redis when configured, else the database)."""
    if use_redis():
        cache = caches["default"]
        try:
            stamp = cache.get(CACHE_KEY)
            if stamp is None:
                stamp = db_stamp()
                # add(): never overwrite a newer stamp another process just set.
                cache.add(CACHE_KEY, stamp, timeout=CACHE_TTL)
                stamp = cache.get(CACHE_KEY) or stamp
            return stamp
        except Exception:  # noqa: BLE001 - Redis down: the database still answers
            logger.warning("flags: cache unreachable, checking the database stamp")
            return db_stamp()
    return db_stamp()


def publish_stamp(stamp: str) -> None:
    """Make `stamp` (just committed) the shared one in Redis, when Redis is used."""
    if use_redis():
        try:
            caches["default"].set(CACHE_KEY, stamp, timeout=CACHE_TTL)
        except Exception:  # noqa: BLE001 - readers fall back to the database
            logger.warning("flags: could not publish the flag stamp to the cache")


def new_stamp() -> str:
    return uuid.uuid4().hex


def build(stamp: str) -> Snapshot:
    from flags.models import Flag

    compiled = {}
    rows = Flag.objects.filter(archived=False).values_list(
        "key", "type", "value", "rules", "rollout", "enabled", "description"
    )
    for key, flag_type, value, rules, rollout, enabled, description in rows:
        try:
            compiled[key] = compile_flag(
                key, flag_type, value, rules, rollout, enabled, description
            )
        except InvalidFlag as exc:
            # Only a hand-edited database gets here; the services validate.
            logger.error("flags: flag %s is invalid and is skipped: %s", key, exc)
    return Snapshot(stamp, compiled)


def current() -> Snapshot:
    """Return the snapshot to evaluate from, checking the stamp at most once a second."""
    state = _state
    snap = state.snapshot
    now = clock()
    if snap is not None and now - state.checked_at < CHECK_INTERVAL:
        return snap
    # While another thread checks, keep serving the snapshot we have; wait only
    # when there is none.
    if not _reload_lock.acquire(blocking=snap is None):
        return snap
    try:
        snap = state.snapshot
        if snap is not None and clock() - state.checked_at < CHECK_INTERVAL:
            return snap  # another thread checked meanwhile
        generation = state.generation
        stamp = shared_stamp()
        if snap is None or stamp != snap.stamp:
            snap = build(stamp)
        if state.generation == generation:
            state.snapshot = snap
            state.checked_at = now
        return snap
    finally:
        _reload_lock.release()


def invalidate() -> None:
    """Drop this process's snapshot (after a local change) so the next read reloads."""
    _state.generation += 1
    _state.snapshot = None
    _state.checked_at = float("-inf")


reset = invalidate
