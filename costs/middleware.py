"""Count the bytes of API responses for the cost report, cheaply and across processes.

Each process adds response sizes up in memory and flushes them into the
per-day `BandwidthCounter` row with one `F()` update every `FLUSH_SECONDS` or
`FLUSH_RESPONSES` responses, whichever comes first, and once more at exit:
never a database write per request. A failed flush keeps the count for the
next one and never breaks the response that triggered it.
"""

import atexit
import datetime as dt
import logging
import threading
import time

from django.utils import timezone

logger = logging.getLogger("costs.bandwidth")

API_PREFIXES = ("/api/", "/ofrep/")
FLUSH_SECONDS = 10.0
FLUSH_RESPONSES = 1000
_EPOCH = dt.date(1970, 1, 1)


def response_size(response) -> int:
    """Return the body size of `response`, or its Content-Length when streaming."""
    if getattr(response, "streaming", False):
        # Counting a stream would mean wrapping its iterator; the header is free.
        try:
            return max(0, int(response.get("Content-Length", 0)))
        except (TypeError, ValueError):
            return 0
    return len(response.content)


class ByteCounter:
    """Thread-safe in-memory byte totals per UTC day, flushed in batches."""

    def __init__(
        self, flush_seconds: float = FLUSH_SECONDS, flush_responses: int = FLUSH_RESPONSES
    ):
        self.flush_seconds = flush_seconds
        self.flush_responses = flush_responses
        self._lock = threading.Lock()
        self._pending: dict[int, list[int]] = {}  # epoch day -> [bytes, responses]
        self._unflushed = 0
        self._last_flush = time.monotonic()
        self._failing = False
        self._database = None  # the database the pending counts belong to

    def add(self, nbytes: int) -> None:
        """Count one response of `nbytes`; flush when a batch is due."""
        day = int(time.time() // 86400)
        with self._lock:
            if not self._pending:
                self._database = _database_name()
            slot = self._pending.get(day)
            if slot is None:
                slot = self._pending[day] = [0, 0]
            slot[0] += nbytes
            slot[1] += 1
            self._unflushed += 1
            due = (
                self._unflushed >= self.flush_responses
                or time.monotonic() - self._last_flush >= self.flush_seconds
            )
        if due and not _in_transaction():
            self.flush()

    def pending(self) -> tuple[int, int]:
        """Return (bytes, responses) counted here and not yet flushed."""
        with self._lock:
            return (
                sum(s[0] for s in self._pending.values()),
                sum(s[1] for s in self._pending.values()),
            )

    def reset(self) -> None:
        """Drop the unflushed counts (tests)."""
        with self._lock:
            self._pending.clear()
            self._unflushed = 0
            self._last_flush = time.monotonic()

    def flush(self) -> bool:
        """Write the pending counts; on failure keep them for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
            database, self._database = self._database, None
            self._unflushed = 0
            self._last_flush = time.monotonic()
        if not pending:
            return True
        if database != _database_name():
            # Served against another database (a test run's, since torn down):
            # the counts are not this database's to add.
            return True
        failed: dict[int, list[int]] = {}
        error = None
        for day, (nbytes, count) in pending.items():
            try:
                _write(_EPOCH + dt.timedelta(days=day), nbytes, count)
            except Exception as exc:
                failed[day] = [nbytes, count]
                error = exc
        if failed:
            if not self._failing:  # once per run of failures, not once per retry
                logger.warning(
                    "bandwidth counter flush failed; keeping the count: %s", error, exc_info=error
                )
            self._failing = True
            with self._lock:
                if not self._pending:
                    self._database = database
                for day, (nbytes, count) in failed.items():
                    slot = self._pending.setdefault(day, [0, 0])
                    slot[0] += nbytes
                    slot[1] += count
                    self._unflushed += count
            return False
        self._failing = False
        return True


def _database_name():
    from django.db import connections

    try:
        return connections["default"].settings_dict.get("NAME")
    except Exception:
        return None


def _in_transaction() -> bool:
    """Whether this thread's connection is inside `atomic()`.

    Middleware never is in production (ATOMIC_REQUESTS is off); a test wraps
    requests in its transaction, and a flush there would add a write to it.
    """
    from django.db import connection

    try:
        return connection.in_atomic_block
    except Exception:
        return False


def _write(day: dt.date, nbytes: int, count: int) -> None:
    """Add to the day's counter row with one F() update (creating the row once a day)."""
    from django.db import IntegrityError, transaction
    from django.db.models import F

    from costs.models import BandwidthCounter

    now = timezone.now()
    # A savepoint, so a failure cannot poison a surrounding transaction.
    with transaction.atomic():
        changes = {"bytes": F("bytes") + nbytes, "responses": F("responses") + count}
        if BandwidthCounter.objects.filter(day=day).update(updated_at=now, **changes):
            return
        try:
            with transaction.atomic():
                BandwidthCounter.objects.create(day=day, bytes=nbytes, responses=count)
        except IntegrityError:  # another process created the row first
            BandwidthCounter.objects.filter(day=day).update(updated_at=now, **changes)


counter = ByteCounter()
atexit.register(counter.flush)


class BandwidthMiddleware:
    """Count the body bytes of every response under /api/ and /ofrep/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(API_PREFIXES):
            try:
                counter.add(response_size(response))
            except Exception:
                logger.exception("bandwidth counting failed")
        return response
