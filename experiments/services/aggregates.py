"""Per-variant aggregates kept up to date in the transaction that stores the raw rows.

Results and the time series read only these (experiments.selectors), so they
cost a few indexed reads whatever the number of events. Every write is an
`INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x` (SQLite >= 3.24 and
PostgreSQL), so concurrent writers add up instead of overwriting each other;
rows are written in key order so two transactions never wait on each other's
rows in opposite orders (no deadlock). `recount` (services.recount) rebuilds
them from the raw rows and reports any difference.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models

from experiments.models import EventDay, ExposureDay, UserEvent
from experiments.services.sql import chunks, column, rows_source

# (experiment id, event, variant, day) -> [converters, events, value_sum, value_sq]
DayDeltas = dict[tuple[int, str, str, date], list[float]]


def as_date(value: Any) -> date | None:
    """Return a DATE column as read by raw SQL (SQLite returns text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _upsert(
    model: type[models.Model],
    keys: Sequence[str],
    adds: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    plain: Sequence[str] = (),
    extra_set: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` (keys, plain, adds), adding `adds` to the existing row on conflict.

    `plain` columns are only inserted; `extra_set` are more `col = expr`
    assignments (`T` names the stored row); `returning` are columns to read back after the write.
    """
    if not rows:
        return []
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    cols = [column(model, n) for n in (*keys, *plain, *adds)]
    sets = [f"{qn(c)} = {table}.{qn(c)} + excluded.{qn(c)}" for c in cols[len(cols) - len(adds) :]]
    sets += [s.replace("T.", f"{table}.") for s in extra_set]
    ret = f" RETURNING {', '.join(qn(column(model, n)) for n in returning)}" if returning else ""
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            source, params = rows_source(model, (*keys, *plain, *adds), chunk)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(qn(c) for c in cols)}) {source} "
                f"ON CONFLICT ({', '.join(qn(c) for c in cols[: len(keys)])}) "
                f"DO UPDATE SET {', '.join(sets)}{ret}",
                params,
            )
            if returning:
                out += cursor.fetchall()
    return out


def add_exposures(rows: Iterable[tuple[int, str]], when: datetime) -> None:
    """Count newly stored exposures, given as (experiment id, variant), on `when`'s day."""
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for exp_id, variant in rows:
        counts[(exp_id, variant)] += 1
    day = when.date()
    _upsert(
        ExposureDay,
        ("experiment", "variant", "day"),
        ("users",),
        [(e, v, day, n) for (e, v), n in sorted(counts.items())],
    )


class NewEvent:
    """One stored event, as the aggregates need it."""

    __slots__ = ("exp_id", "user", "variant", "event", "value")

    def __init__(self, exp_id: int, user: str, variant: str, event: str, value: float | None):
        self.exp_id, self.user, self.variant = exp_id, user, variant
        self.event, self.value = event, value


def add_events(events: Sequence[NewEvent], when: datetime) -> None:
    """Add stored events (all logged at `when`) to the per-user and per-day aggregates."""
    day = when.date()
    per_user: dict[tuple[int, str, str], list[Any]] = {}
    deltas: DayDeltas = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for e in events:
        row = per_user.setdefault((e.exp_id, e.event, e.user), [e.variant, 0, 0.0])
        row[1] += 1
        if e.value is not None:
            row[2] += e.value
        d = deltas[(e.exp_id, e.event, e.variant, day)]
        d[1] += 1
        d[2] += e.value or 0.0
    ordered = sorted(per_user.items())
    returned = _upsert(
        UserEvent,
        ("experiment", "event", "user"),
        ("events", "value_sum"),
        [(e, ev, u, row[0], day, 0, 0.0, None, row[1], row[2]) for (e, ev, u), row in ordered],
        plain=("variant", "first_day", "prev_events", "prev_value_sum", "prev_first_day"),
        extra_set=_user_extra_set(),
        returning=("experiment", "event", "variant", "events", "value_sum", "first_day")
        + ("prev_events", "prev_value_sum", "prev_first_day"),
    )
    for exp_id, event, variant, _n, total, first, prev_n, prev_total, prev_first in returned:
        _user_change(
            deltas,
            (int(exp_id), event, variant),
            (total, as_date(first)),
            (prev_total, as_date(prev_first)) if prev_n else None,
        )
    _upsert(
        EventDay,
        ("experiment", "event", "variant", "day"),
        ("converters", "events", "value_sum", "value_sq"),
        [(*key, *vals) for key, vals in sorted(deltas.items()) if any(vals)],
    )


def _user_extra_set() -> list[str]:
    """Keep the earliest first day and remember the values before this upsert.

    In `ON CONFLICT DO UPDATE SET` every expression reads the stored row as it
    was before the update, on SQLite and PostgreSQL alike.
    """
    qn = connection.ops.quote_name
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    first, prev_first = qn(column(UserEvent, "first_day")), qn(column(UserEvent, "prev_first_day"))
    return [
        f"{first} = {least}(T.{first}, excluded.{first})",
        f"{prev_first} = T.{first}",
        f"{qn(column(UserEvent, 'prev_events'))} = T.{qn(column(UserEvent, 'events'))}",
        f"{qn(column(UserEvent, 'prev_value_sum'))} = T.{qn(column(UserEvent, 'value_sum'))}",
    ]


def _user_change(
    deltas: DayDeltas,
    key: tuple[int, str, str],
    new: tuple[float, date | None],
    old: tuple[float, date | None] | None,
) -> None:
    """Move one user's contribution (converter, squared total) to its first day."""
    total, first = new
    if first is None:
        return
    if old is not None:
        old_total, old_first = old
        if old_first is not None:
            d = deltas[(*key, old_first)]
            d[0] -= 1
            d[3] -= old_total * old_total
    d = deltas[(*key, first)]
    d[0] += 1
    d[3] += total * total
