"""The raw SQL of the hot paths: the assign read, the exposure insert, the event checks' read.

Raw SQL because building the equivalent querysets costs several times the
queries themselves on every request (see the bench). Column and table names
come from the models' metadata.
"""

import json
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, models

from experiments.limits import KEY_RE
from experiments.models import Event, Experiment, Exposure

# Rows per statement when a batch is written or looked up: well under SQLite's
# 32,766 bound parameters (an exposure insert binds 4 per row).
CHUNK = 500


# --- raw SQL ------------------------------------------------------------------------


def _column(model: type[models.Model], name: str) -> str:
    """Return the database column of a concrete field (the raw SQL below names columns)."""
    field = model._meta.get_field(name)
    column = field.column if isinstance(field, models.Field) else None
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column


column = _column


def chunks(rows: list[Any]) -> list[list[Any]]:
    """Split rows for multi-row statements: SQLite binds each value, PostgreSQL arrays."""
    size = (len(rows) or 1) if connection.vendor == "postgresql" else CHUNK
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def rows_source(
    model: type[models.Model], names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> tuple[str, list[Any]]:
    """Return what a multi-row INSERT inserts: the SQL after the column list, and its parameters.

    PostgreSQL: the rows as one JSON text, read with `json_populate_recordset`
    into the table's own row type (so each value takes its column's type): a
    statement with thousands of placeholders costs more to prepare on the
    client than to run, and so does quoting one array per column (psycopg
    quotes each element in Python; `json.dumps` is C). SQLite: `VALUES (...), (...)`.
    """
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        cols = [_column(model, n) for n in names]
        payload = json.dumps([dict(zip(cols, row, strict=True)) for row in rows], default=str)
        record = f"NULL::{qn(model._meta.db_table)}"
        return (
            f"SELECT {', '.join(qn(c) for c in cols)} FROM json_populate_recordset({record}, %s)",
            [payload],
        )
    placeholder = "(" + ", ".join(["%s"] * len(names)) + ")"
    return f"VALUES {', '.join([placeholder] * len(rows))}", [p for row in rows for p in row]


def _json(value: Any) -> Any:
    """Decode a JSON column read by raw SQL (SQLite returns text, PostgreSQL the value)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _share_lock() -> str:
    """Return the clause that share-locks the experiment rows read in a transaction.

    PostgreSQL: `FOR SHARE`, so concurrent exposures and events do not wait for
    each other but do wait for (and are waited for by) `experiment_update` and
    `experiment_set_status`, which lock the row FOR UPDATE. SQLite has no row
    locks: its IMMEDIATE transactions already serialize every writer.
    """
    return " FOR SHARE" if connection.features.has_select_for_update else ""


def insert_exposures(rows: list[tuple[int, str, str]], now: datetime) -> set[tuple[int, str]]:
    """Insert (experiment_id, user, variant) rows that are absent; return those inserted.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` (SQLite >= 3.35 and
    PostgreSQL), so two processes racing on the same user store it once and
    exactly one of them mirrors it. Call inside a transaction.
    """
    if not rows:
        return set()
    # In key order: two batches inserting overlapping new users wait for each
    # other in one order, never in a cycle (PostgreSQL's unique-index locks).
    rows = sorted(rows)
    qn = connection.ops.quote_name
    names = ("experiment", "user", "variant", "created_at")
    cols = [_column(Exposure, n) for n in names]
    stamp = connection.ops.adapt_datetimefield_value(now)
    inserted: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            source, params = rows_source(Exposure, names, [(*r, stamp) for r in chunk])
            cursor.execute(
                f"INSERT INTO {qn(Exposure._meta.db_table)} ({', '.join(qn(c) for c in cols)}) "
                f"{source} ON CONFLICT ({qn(cols[0])}, {qn(cols[1])}) DO NOTHING "
                f"RETURNING {qn(cols[0])}, {qn(cols[1])}",
                params,
            )
            inserted.update((int(e), u) for e, u in cursor.fetchall())
    return inserted


def exposed_variants(exp_id: int, users: list[str]) -> list[tuple[str, str]]:
    """Return (user, variant) of those of `users` exposed to the experiment."""
    qn = connection.ops.quote_name
    user, variant = qn(_column(Exposure, "user")), qn(_column(Exposure, "variant"))
    params: list[Any]
    if connection.vendor == "postgresql":
        match, params = f"{user} = ANY(%s)", [users]  # one array, not a placeholder each
    else:
        match, params = f"{user} IN ({', '.join(['%s'] * len(users))})", list(users)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {user}, {variant} FROM {qn(Exposure._meta.db_table)} "
            f"WHERE {qn(_column(Exposure, 'experiment'))} = %s AND {match}",
            [exp_id, *params],
        )
        return list(cursor.fetchall())


def insert_events(rows: list[tuple[int, str, str, str, float | None]], now: datetime) -> None:
    """Insert (experiment_id, user, variant, event, value) rows logged at `now`.

    Raw multi-row INSERTs without RETURNING: nothing needs the new ids, and
    building a model instance per event costs more than storing it.
    """
    qn = connection.ops.quote_name
    names = ("experiment", "user", "variant", "event", "value", "created_at")
    cols = ", ".join(qn(_column(Event, n)) for n in names)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            source, params = rows_source(Event, names, [(*r, stamp) for r in chunk])
            cursor.execute(f"INSERT INTO {qn(Event._meta.db_table)} ({cols}) {source}", params)


class AssignRow(NamedTuple):
    """The experiment with the user's exposure, as the hot-path query reads it."""

    id: int
    key: str
    variants: list[str]
    weights: list[int]
    salt: str
    status: str
    winner: str
    description: str
    exposed: str | None  # the user's stored variant


_ASSIGN_SQL: dict[bool, str] = {}


def _assign_sql(lock: bool = False) -> str:
    """Return the hot-path query: the experiment and the user's exposure, in one SELECT.

    Raw SQL because building the equivalent queryset costs several times the
    query itself on every request (the assign endpoint is the hot path).
    """
    if lock not in _ASSIGN_SQL:
        qn = connection.ops.quote_name
        names = ("id", "key", "variants", "weights", "salt", "status", "winner", "description")
        cols = ", ".join(f"e.{qn(_column(Experiment, n))}" for n in names)
        _ASSIGN_SQL[lock] = (
            f"SELECT {cols}, (SELECT x.{qn(_column(Exposure, 'variant'))} "
            f"FROM {qn(Exposure._meta.db_table)} x "
            f"WHERE x.{qn(_column(Exposure, 'experiment'))} = e.{qn(_column(Experiment, 'id'))} "
            f"AND x.{qn(_column(Exposure, 'user'))} = %s) "
            f"FROM {qn(Experiment._meta.db_table)} e "
            f"WHERE e.{qn(_column(Experiment, 'key'))} = %s" + (_share_lock() if lock else "")
        )
    return _ASSIGN_SQL[lock]


def assign_row(experiment: str, user: str, *, lock: bool = False) -> AssignRow | None:
    """Return the experiment with `user`'s exposure, or None; `lock` share-locks the row."""
    if not (isinstance(experiment, str) and KEY_RE.fullmatch(experiment)):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_assign_sql(lock), [user, experiment])
        row = cursor.fetchone()
    if row is None:
        return None
    id_, key, variants, weights, salt, status, winner, description, exposed = row
    return AssignRow(
        id_, key, _json(variants), _json(weights), salt, status, winner, description, exposed
    )


class ExpRow(NamedTuple):
    """What event checks read from an experiment; compared to detect a concurrent change."""

    id: int
    key: str
    status: str
    winner: str
    variants: list[str]
    weights: list[int]
    salt: str
    metrics: Any = None  # the declared metrics (what the events counter names)


def load_experiments(keys: set[str], *, lock: bool = False) -> dict[str, ExpRow]:
    """Return the experiments named in `keys` by key; `lock` share-locks their rows."""
    valid = sorted(k for k in keys if KEY_RE.fullmatch(k))
    if not valid:
        return {}
    qn = connection.ops.quote_name
    names = ("id", "key", "status", "winner", "variants", "weights", "salt", "metrics")
    cols = ", ".join(qn(_column(Experiment, n)) for n in names)
    sql = (
        f"SELECT {cols} FROM {qn(Experiment._meta.db_table)} "
        f"WHERE {qn(_column(Experiment, 'key'))} IN ({', '.join(['%s'] * len(valid))}) "
        f"ORDER BY {qn(_column(Experiment, 'id'))}" + (_share_lock() if lock else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, valid)
        rows = cursor.fetchall()
    return {
        r[1]: ExpRow(r[0], r[1], r[2], r[3], _json(r[4]), _json(r[5]), r[6], _json(r[7]))
        for r in rows
    }
