"""Rebuild the aggregates from the raw exposures and events, and report any difference.

`manage.py experiments recount [KEY]` runs it. Counts (users, converters,
events, first days) must match exactly. Value sums are floating point: the
stored ones were added up in commit order, the recount adds them in the
database's order, so they are compared to a relative 1e-9 (far below any
statistic's precision, far above float rounding).
"""

import math
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from experiments.models import Event, EventDay, Experiment, Exposure, ExposureDay, UserEvent
from experiments.services.aggregates import as_date
from experiments.services.sql import column
from experiments.services.validation import get_experiment

REL_TOL = 1e-9
# Differences listed one by one; past this only their number.
SHOWN = 20


@dataclass
class Recount:
    """What a recount found for one experiment."""

    key: str
    compared: int = 0  # aggregate rows compared
    difference_count: int = 0
    differences: list[str] = field(default_factory=list)

    def differ(self, text: str) -> None:
        self.difference_count += 1
        if len(self.differences) < SHOWN:
            self.differences.append(text)


def rebuild_names() -> dict[str, str]:
    """Quoted table and column names for the rebuild SQL."""
    qn = connection.ops.quote_name
    names = {
        "exposure": qn(Exposure._meta.db_table),
        "event": qn(Event._meta.db_table),
        "exposureday": qn(ExposureDay._meta.db_table),
        "userevent": qn(UserEvent._meta.db_table),
        "eventday": qn(EventDay._meta.db_table),
        "exp_id": qn(column(Exposure, "experiment")),
        "user": qn(column(Event, "user")),
    }
    if connection.vendor == "postgresql":
        names["day"] = "(created_at AT TIME ZONE 'UTC')::date"
    else:
        names["day"] = "date(created_at)"
    return names


REBUILD = [
    "DELETE FROM {exposureday} WHERE {exp_id} = %(exp)s",
    "DELETE FROM {userevent} WHERE {exp_id} = %(exp)s",
    "DELETE FROM {eventday} WHERE {exp_id} = %(exp)s",
    "INSERT INTO {exposureday} ({exp_id}, variant, day, users) "
    "SELECT {exp_id}, variant, {day}, COUNT(*) FROM {exposure} WHERE {exp_id} = %(exp)s "
    "GROUP BY {exp_id}, variant, {day}",
    "INSERT INTO {userevent} ({exp_id}, event, {user}, variant, events, value_sum, first_day, "
    "prev_events, prev_value_sum, prev_first_day) "
    "SELECT {exp_id}, event, {user}, MIN(variant), COUNT(*), COALESCE(SUM(value), 0), "
    "MIN({day}), 0, 0, NULL FROM {event} WHERE {exp_id} = %(exp)s "
    "GROUP BY {exp_id}, event, {user}",
    "INSERT INTO {eventday} ({exp_id}, event, variant, day, converters, events, value_sum, "
    "value_sq) SELECT %(exp)s, event, variant, day, SUM(c), SUM(n), SUM(v), SUM(q) FROM ("
    " SELECT event, variant, {day} AS day, 0 AS c, COUNT(*) AS n,"
    " COALESCE(SUM(value), 0) AS v, 0.0 AS q FROM {event} WHERE {exp_id} = %(exp)s"
    " GROUP BY event, variant, {day}"
    " UNION ALL"
    " SELECT event, variant, first_day, COUNT(*), 0, 0.0, SUM(value_sum * value_sum)"
    " FROM {userevent} WHERE {exp_id} = %(exp)s GROUP BY event, variant, first_day"
    ") parts GROUP BY event, variant, day",
]


def _snapshot(exp: Experiment) -> dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]:
    """Return the stored aggregates of `exp`, keyed like the recount compares them."""
    return {
        "users": {
            (v, as_date(d)): (n,)
            for v, d, n in ExposureDay.objects.filter(experiment=exp).values_list(
                "variant", "day", "users"
            )
        },
        "per day": {
            (e, v, as_date(d)): tuple(rest)
            for e, v, d, *rest in EventDay.objects.filter(experiment=exp).values_list(
                "event", "variant", "day", "converters", "events", "value_sum", "value_sq"
            )
        },
        "per user": {
            (e, u): (v, n, s, as_date(d))
            for e, u, v, n, s, d in UserEvent.objects.filter(experiment=exp).values_list(
                "event", "user", "variant", "events", "value_sum", "first_day"
            )
        },
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=REL_TOL)
    return bool(a == b)


def _show(row: tuple[Any, ...] | None) -> str:
    return "none" if row is None else "(" + ", ".join(str(x) for x in row) + ")"


def _compare(result: Recount, before: dict, after: dict) -> None:
    for table, old_rows in before.items():
        new_rows = after[table]
        for key in sorted(set(old_rows) | set(new_rows), key=repr):
            result.compared += 1
            old, new = old_rows.get(key), new_rows.get(key)
            if old is None or new is None:
                if any(new or old):  # an all-zero row is no difference
                    result.differ(
                        f"{table} {_show(key)}: stored {_show(old)}, recounted {_show(new)}"
                    )
            elif not all(_same(a, b) for a, b in zip(old, new, strict=True)):
                result.differ(f"{table} {_show(key)}: stored {_show(old)}, recounted {_show(new)}")


def recount_experiment(key: str) -> Recount:
    """Rebuild one experiment's aggregates from its raw rows; report the differences.

    The experiment row is locked FOR UPDATE, so ingestion (which holds it FOR
    SHARE) waits, and the raw rows and aggregates are read in one state.
    """
    result = Recount(key)
    names = rebuild_names()
    with transaction.atomic():
        exp = get_experiment(key, for_update=True)
        before = _snapshot(exp)
        with connection.cursor() as cursor:
            for statement in REBUILD:
                cursor.execute(statement.format(**names), {"exp": exp.id})
        _compare(result, before, _snapshot(exp))
    return result


def recount(*, key: str | None = None) -> list[Recount]:
    """Recount one experiment, or every experiment (each in its own transaction)."""
    keys = [key] if key is not None else list(Experiment.objects.values_list("key", flat=True))
    return [recount_experiment(k) for k in keys]
