"""Usage counts: every evaluation counted in process memory, flushed in batches.

`count(key)` adds one to `(flag, variant, reason)` of the current UTC hour.
At most every `USAGE_FLUSH_SECONDS` (and at each hour boundary) or after
`USAGE_FLUSH_EVALUATIONS` evaluations, whichever comes first, the next
evaluation closes the batch: `FLUSH_LISTENERS` get it (the metrics endpoint,
wired by the coordinator; one count per evaluation, two readers), and it is
added to the `FlagUsage` rows with one `F()` update per row — the bandwidth
counter's pattern (`costs.middleware`), never a write per evaluation. Keys of
unknown flags are counted as "other" for the listeners and never written.

Counts lost when a process is killed: the open batch, i.e. evaluations of at
most one flush interval (10 s, 10,000 evaluations). A batch that cannot be
written (database down, or the caller inside a transaction) waits for the next
flush; a clean exit flushes (atexit).
"""

import atexit
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable

from flags.limits import USAGE_FLUSH_EVALUATIONS, USAGE_FLUSH_SECONDS

logger = logging.getLogger("flags.usage")

UsageKey = tuple[str, str, str]  # (flag key or "other", variant, reason)
Batch = dict[UsageKey, int]
FLUSH_LISTENERS: list[Callable[[Batch], None]] = []
OTHER = "other"

_lock = threading.Lock()
_counts: Batch = {}
_n = 0
_hour = 0  # the UTC hour (since the epoch) of `_counts`
_deadline = 0.0  # time.time() at which the next count closes the batch
_pending: list[tuple[int, str | None, Batch]] = []  # (hour, database, counts) to write
_failing = False
_time = time.time


def count(key: UsageKey) -> None:
    """Count one evaluation (the hot path: one lock, one dict update)."""
    global _n
    t = _time()
    with _lock:
        batch = _rotate(t) if t >= _deadline or _n >= USAGE_FLUSH_EVALUATIONS else None
        counts = _counts
        counts[key] = counts.get(key, 0) + 1
        _n += 1
    if batch is not None:
        _closed(batch)


def count_many(keys: tuple[UsageKey, ...]) -> None:
    """Count one evaluation of each key (GET /api/flags/get serves every flag)."""
    global _n
    t = _time()
    with _lock:
        batch = _rotate(t) if t >= _deadline or _n >= USAGE_FLUSH_EVALUATIONS else None
        counts = _counts
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        _n += len(keys)
    if batch is not None:
        _closed(batch)


def _rotate(t: float) -> Batch | None:
    """Close the open batch (under the lock); return it when it holds counts."""
    global _counts, _n, _hour, _deadline
    closed = _counts
    if closed:
        _pending.append((_hour, _database_name(), closed))
    _counts, _n = {}, 0
    _hour = int(t // 3600)
    _deadline = min(t + USAGE_FLUSH_SECONDS, (_hour + 1) * 3600.0)
    return closed or None


def _closed(batch: Batch) -> None:
    for listener in list(FLUSH_LISTENERS):
        try:
            listener(dict(batch))
        except Exception:
            logger.exception("flags usage listener failed")
    flush()


def flush(*, close: bool = False) -> bool:
    """Write the closed batches (with `close`, the open one too); keep them on failure."""
    global _failing
    batch = None
    with _lock:
        if close:
            batch = _rotate(_time())
        pending = list(_pending)
        _pending.clear()
    if batch is not None:
        for listener in list(FLUSH_LISTENERS):
            try:
                listener(dict(batch))
            except Exception:
                logger.exception("flags usage listener failed")
    if not pending:
        return True
    if _in_transaction():
        _keep(pending)
        return False
    current = _database_name()
    try:
        _write([p for p in pending if p[1] == current])
    except Exception as exc:
        if not _failing:
            logger.warning("flags usage flush failed; keeping the counts: %s", exc)
        _failing = True
        _keep(pending)
        return False
    _failing = False
    return True


def _keep(pending: list[tuple[int, str | None, Batch]]) -> None:
    with _lock:
        _pending[:0] = pending


def _write(pending: list[tuple[int, str | None, Batch]]) -> None:
    """Add each batch to its hour's rows: one F() update per row, a row created once."""
    from django.db import IntegrityError, transaction
    from django.db.models import F
    from django.utils import timezone

    from flags.models import FlagUsage

    now = timezone.now()
    with transaction.atomic():
        for hour, _, counts in pending:
            start = dt.datetime.fromtimestamp(hour * 3600, tz=dt.UTC)
            last = min(now, start + dt.timedelta(hours=1))
            for (key, variant, reason), n in counts.items():
                if key == OTHER:
                    continue
                rows = FlagUsage.objects.filter(key=key, variant=variant, reason=reason, hour=start)
                if rows.update(count=F("count") + n, last_at=last):
                    continue
                try:
                    with transaction.atomic():
                        FlagUsage.objects.create(
                            key=key,
                            variant=variant,
                            reason=reason,
                            hour=start,
                            count=n,
                            last_at=last,
                        )
                except IntegrityError:  # another process created the row first
                    rows.update(count=F("count") + n, last_at=last)


def pending_count() -> int:
    """Return the evaluations counted here and not yet written (tests, diagnostics)."""
    with _lock:
        return sum(_counts.values()) + sum(sum(b.values()) for _, _, b in _pending)


def reset() -> None:
    """Drop every unwritten count and start a new batch (tests; a forked child)."""
    global _lock, _counts, _n, _deadline
    _lock = threading.Lock()
    _counts, _n, _deadline = {}, 0, 0.0
    _pending.clear()


def _database_name() -> str | None:
    from django.db import connections

    try:
        return str(connections["default"].settings_dict.get("NAME"))
    except Exception:
        return None


def _in_transaction() -> bool:
    from django.db import connection

    try:
        return connection.in_atomic_block
    except Exception:
        return False


def _flush_at_exit() -> None:
    try:
        flush(close=True)
    except Exception:
        logger.exception("flags usage flush at exit failed")


atexit.register(_flush_at_exit)
# A forked worker starts with no counts: the parent's are the parent's to write.
os.register_at_fork(after_in_child=reset)
