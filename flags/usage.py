"""Usage counts: every evaluation counted in process memory, flushed in batches.

`count(cell)` adds one to the cell of `(flag, variant, reason)` (compiled
flags hold a cell per outcome, so counting hashes nothing and never waits for
I/O). A writer thread per process closes the batch every
`USAGE_FLUSH_SECONDS`, at each UTC hour, and when the
`USAGE_FLUSH_EVALUATIONS`th evaluation wakes it: `FLUSH_LISTENERS` get it
(the metrics endpoint, wired by the coordinator; one count per evaluation,
two readers), and it is added to the `FlagUsage` rows with one `F()` update
per row — the bandwidth counter's batching (`costs.middleware`), never a
write per evaluation, and off the request's thread. Keys of unknown flags are
counted as "other" for the listeners and never written.

Counts lost when a process is killed: the open batch, i.e. evaluations of at
most one flush interval (10 s, 10,000 evaluations). A batch that cannot be
written (database down) waits for the next flush; a clean exit flushes (atexit).
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

_lock = threading.Lock()  # between closers and `cell()`, never on the counting path
# One counter cell per key, shared by every snapshot: counting is `cell[0] += 1`
# (no hashing, no allocation); closing a batch reads and zeroes the cells.
_cells: dict[UsageKey, list[int]] = {}
_n = 0  # evaluations counted in the open batch
_wake = threading.Event()  # wakes the writer before its time (the 10,000th evaluation)
# False: the writer thread never writes (the flags tests flush explicitly).
BACKGROUND = True
_hour = 0  # the UTC hour (since the epoch) the open batch is counted in
_pending: list[tuple[int, str | None, Batch]] = []  # (hour, database, counts) to write
_failing = False
_time = time.time


def cell(key: UsageKey) -> list[int]:
    """Return the counter cell of `key` (compiled flags keep one per outcome)."""
    with _lock:
        found = _cells.get(key)
        if found is None:
            found = _cells[key] = [0]
        return found


def count(slot: list[int]) -> None:
    """Count one evaluation in `slot` (the hot path: two increments, no lock, no I/O).

    `slot[0] += 1` on a list of ints runs no Python code and reaches no point
    where CPython's interpreter hands the GIL to another thread, so concurrent
    threads never lose an increment; `_rotate` takes what it read with
    `slot[0] -= taken` for the same reason. `_n` only decides when to wake the
    writer, so a rare lost update there costs nothing. (A free-threaded
    interpreter would need a lock here.)
    """
    global _n
    slot[0] += 1
    _n += 1
    if _n >= USAGE_FLUSH_EVALUATIONS and not _wake.is_set():
        _wake.set()  # once: the writer resets `_n` when it takes the batch


def count_many(slots: tuple[list[int], ...]) -> None:
    """Count one evaluation in each slot (GET /api/flags/get serves every flag)."""
    global _n
    for slot in slots:
        slot[0] += 1
    _n += len(slots)
    if _n >= USAGE_FLUSH_EVALUATIONS and not _wake.is_set():
        _wake.set()


def _rotate() -> Batch | None:
    """Close the open batch (under the lock); return it when it holds counts."""
    global _n, _hour
    closed = {}
    for key, slot in list(_cells.items()):
        taken = slot[0]
        if taken:
            closed[key] = taken
            slot[0] -= taken  # keeps an increment made since the read (see count)
    if closed:
        _pending.append((_hour, _database_name(), closed))
    _n = 0
    _hour = int(_time() // 3600)
    return closed or None


def _writer() -> None:
    """Close and write a batch every USAGE_FLUSH_SECONDS, at each UTC hour, and when
    woken by the 10,000th evaluation (a daemon thread with its own connection)."""
    from django.db import connections

    while True:
        now = _time()
        _wake.wait(max(0.05, min(USAGE_FLUSH_SECONDS, 3600 - now % 3600)))
        try:
            if BACKGROUND:
                flush(close=True)
        except Exception:
            logger.exception("flags usage flush failed")
        # After the batch was taken (and `_n` reset): counters set it only once.
        _wake.clear()
        try:
            if BACKGROUND:
                # Kept between flushes, as a request thread keeps it; dropped when
                # broken or past CONN_MAX_AGE.
                for conn in connections.all(initialized_only=True):
                    conn.close_if_unusable_or_obsolete()
            else:
                connections.close_all()  # this thread's: nothing to write any more
        except Exception:
            logger.warning("flags usage writer could not tidy its connection", exc_info=True)


def _start_writer() -> None:
    global _hour
    _hour = int(_time() // 3600)
    threading.Thread(target=_writer, name="flags-usage-writer", daemon=True).start()


def _notify(batch: Batch) -> None:
    for listener in list(FLUSH_LISTENERS):
        try:
            listener(dict(batch))
        except Exception:
            logger.exception("flags usage listener failed")


def flush(*, close: bool = False) -> bool:
    """Write the closed batches (with `close`, the open one too); keep them on failure."""
    global _failing
    batch = None
    with _lock:
        if close:
            batch = _rotate()
        pending = list(_pending)
        _pending.clear()
    if batch is not None:
        _notify(batch)
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
    """Add each batch to its hour's rows: one additive upsert per row, all in one statement.

    `count = count + n` on the row of (flag, variant, reason, hour), created on
    its first batch (`INSERT … ON CONFLICT … DO UPDATE`, SQLite and PostgreSQL
    alike): the F() pattern without a round trip per row, so a flush every
    10,000 evaluations stays cheap next to them.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from flags.models import FlagUsage

    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params = []
    for hour, _, counts in pending:
        start = dt.datetime.fromtimestamp(hour * 3600, tz=dt.UTC)
        last = adapt(min(now, start + dt.timedelta(hours=1)))
        start_value = adapt(start)
        params += [
            (key, variant, reason, start_value, n, last)
            for (key, variant, reason), n in counts.items()
            if key != OTHER
        ]
    if not params:
        return
    q = connection.ops.quote_name
    table = q(FlagUsage._meta.db_table)
    columns = ", ".join(q(c) for c in ("key", "variant", "reason", "hour", "count", "last_at"))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT ({q('key')}, {q('variant')}, {q('reason')}, {q('hour')}) DO UPDATE SET "
        f"{q('count')} = {table}.{q('count')} + excluded.{q('count')}, "
        f"{q('last_at')} = excluded.{q('last_at')}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def pending_count() -> int:
    """Return the evaluations counted here and not yet written (tests, diagnostics)."""
    with _lock:
        open_batch = sum(slot[0] for slot in _cells.values())
        return open_batch + sum(sum(b.values()) for _, _, b in _pending)


def reset() -> None:
    """Drop every unwritten count and start a new batch (tests)."""
    global _n, _hour
    with _lock:
        for slot in _cells.values():
            slot[0] -= slot[0]
        _n, _hour = 0, int(_time() // 3600)
        _pending.clear()


def _after_fork() -> None:
    """A forked worker starts with no counts (the parent's are the parent's) and a ticker."""
    global _lock
    _lock = threading.Lock()
    reset()
    _start_writer()


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
os.register_at_fork(after_in_child=_after_fork)
_start_writer()
