"""The per-process flag snapshot and the shared version stamp.

Each process evaluates from an immutable `Snapshot` of every flag. At most
once per `CHECK_INTERVAL` seconds a read compares the shared stamp with the
one the snapshot was built from: in Redis (the Django cache) when
`settings.REDIS_URL` is set, otherwise with one primary-key SELECT. Between
checks a read does no I/O at all. Every change replaces the stamp in the
same transaction (`services._bump_stamp`) and, after commit, in the cache,
so any process serves it within one second. A publish that fails deletes the
cached stamp instead, so readers fall back to the database stamp (and copy it
back); the copy also expires after `CACHE_TTL` seconds, which bounds how long
a publish lost to a process dying right after its commit goes unnoticed.

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

from flags import usage
from flags.compiled import CompiledFlag, compile_conditions, compile_flag, contains_attributes
from flags.engine import InvalidFlag, Reason, chain_problem, normalize_conditions

logger = logging.getLogger("flags")

CHECK_INTERVAL = 1.0
CACHE_KEY = "flags:stamp"
# The Redis copy expires so a publish that never happened (the process died
# between commit and `publish_stamp`) heals by itself within a few seconds: the
# next reader after expiry copies the database stamp back. A miss costs one
# primary-key SELECT by one reader, so a short TTL is cheap.
CACHE_TTL = 5
# Tests replace this to step time without sleeping.
clock = time.monotonic


class Snapshot:
    """All live (not archived) flags of one stamp; never mutated after build."""

    __slots__ = ("stamp", "flags", "get", "values", "count", "served")

    def __init__(self, stamp: str, flags: dict[str, CompiledFlag]):
        self.stamp = stamp
        self.flags = MappingProxyType(flags)
        self.get = flags.get  # the lookup of the hot path (a dict's, not the proxy's)
        # The `flags` of GET /api/flags/get, built once per snapshot. A plain
        # dict so the JSON renderer takes it as is; callers must not mutate it.
        self.values = {k: f.value for k, f in sorted(flags.items())}
        self.count = len(flags)
        # What GET /api/flags/get counts: each flag's default, once per read.
        self.served = tuple(usage.cell((k, "default", Reason.DEFAULT)) for k in self.values)


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
            return str(stamp)
        except Exception:
            logger.warning("flags: cache unreachable, checking the database stamp")
            return db_stamp()
    return db_stamp()


def publish_stamp(stamp: str) -> None:
    """Make `stamp` (just committed) the shared one in Redis, when Redis is used."""
    if not use_redis():
        return
    cache = caches["default"]
    try:
        cache.set(CACHE_KEY, stamp, timeout=CACHE_TTL)
        return
    except Exception:
        logger.warning("flags: could not publish the flag stamp to the cache")
    # The cached stamp is now older than the database one and readers trust it:
    # drop it so the next check of every process reads the database stamp
    # (`shared_stamp` copies it back). If Redis is down altogether, readers get
    # an error from it and fall back to the database anyway.
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        logger.warning("flags: could not drop the stale flag stamp from the cache")


def new_stamp() -> str:
    return uuid.uuid4().hex


def _segments() -> dict[str, tuple]:
    """Return name -> (match, contains attributes) of every segment."""
    from flags.models import Segment

    compiled = {}
    for name, conditions in Segment.objects.values_list("name", "conditions"):
        try:
            conditions = normalize_conditions(conditions, f"segment {name}")
        except InvalidFlag as exc:
            logger.error("flags: segment %s is invalid and never matches: %s", name, exc)
            continue
        compiled[name] = (compile_conditions(conditions), contains_attributes(conditions))
    return compiled


def _unsafe_prerequisites(flags: dict[str, CompiledFlag]) -> set[str]:
    """Return flags whose prerequisite chain loops or runs too deep (a hand-edited row)."""
    graph = {key: [p["flag"] for p in flag.prerequisites] for key, flag in flags.items()}
    return {key for key in flags if chain_problem(graph, key)}


def build(stamp: str) -> Snapshot:
    from flags.models import Flag

    compiled = {}
    rows = Flag.objects.filter(archived=False).values_list(
        "key", "type", "value", "rules", "rollout", "enabled", "description", "prerequisites"
    )
    for key, flag_type, value, rules, rollout, enabled, description, prereqs in rows:
        try:
            compiled[key] = compile_flag(
                key, flag_type, value, rules, rollout, enabled, description, prereqs
            )
        except InvalidFlag as exc:
            # Only a hand-edited database gets here; the services validate.
            logger.error("flags: flag %s is invalid and is skipped: %s", key, exc)
    segments = _segments()
    unsafe = _unsafe_prerequisites(compiled)
    for key, flag in compiled.items():
        # A loop would never end: its prerequisites resolve to nothing (always failed).
        flag.link(segments, {} if key in unsafe else compiled)
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
    if snap is None:
        _reload_lock.acquire()
    elif not _reload_lock.acquire(blocking=False):
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
