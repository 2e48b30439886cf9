"""Assignment, exposures and events: the hot paths."""

import json
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from echopilot import mirror
from echopilot.errors import ApiError
from experiments.assignment import assign_variant
from experiments.models import Event, Experiment, Exposure, Status
from experiments.services.validation import (
    BATCH_MAX,
    KEY_RE,
    STREAM,
    check_event_name,
    check_user,
    check_value,
)

# --- assignment and exposures ----------------------------------------------------


def _insert_exposures(rows: list[tuple[int, str, str]], now) -> set[tuple[int, str]]:
    """Insert (experiment_id, user, variant) rows that are absent; return those inserted.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING` (SQLite >= 3.35 and
    PostgreSQL), so two processes racing on the same user store it once and
    exactly one of them mirrors it. Call inside a transaction.
    """
    if not rows:
        return set()
    qn = connection.ops.quote_name
    opts = Exposure._meta
    cols = [opts.get_field(n).column for n in ("experiment", "user", "variant", "created_at")]
    stamp = connection.ops.adapt_datetimefield_value(now)
    inserted: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params = [p for exp_id, user, variant in chunk for p in (exp_id, user, variant, stamp)]
            cursor.execute(
                f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(c) for c in cols)}) "
                f"VALUES {values} ON CONFLICT ({qn(cols[0])}, {qn(cols[1])}) DO NOTHING "
                f"RETURNING {qn(cols[0])}, {qn(cols[1])}",
                params,
            )
            inserted.update((int(e), u) for e, u in cursor.fetchall())
    return inserted


def _exposure_line(key: str, user: str, variant: str, actor: str, ts: str) -> dict:
    return {
        "type": "exposure",
        "ts_iso": ts,
        "experiment": key,
        "user": user,
        "variant": variant,
        "actor": actor,
    }


_ASSIGN_SQL: dict[bool, str] = {}


def _share_lock() -> str:
    """Return the clause that share-locks the experiment rows read in a transaction.

    PostgreSQL: `FOR SHARE`, so concurrent exposures and events do not wait for
    each other but do wait for (and are waited for by) `experiment_update` and
    `experiment_set_status`, which lock the row FOR UPDATE. SQLite has no row
    locks: its IMMEDIATE transactions already serialize every writer.
    """
    return " FOR SHARE" if connection.features.has_select_for_update else ""


def _assign_sql(lock: bool = False) -> str:
    """Return the hot-path query: the experiment and the user's exposure, in one SELECT.

    Raw SQL because building the equivalent queryset costs several times the
    query itself on every request (the assign endpoint is the hot path).
    """
    if lock not in _ASSIGN_SQL:
        qn = connection.ops.quote_name
        exp, exposure = Experiment._meta, Exposure._meta
        cols = ", ".join(
            f"e.{qn(exp.get_field(n).column)}"
            for n in ("id", "key", "variants", "weights", "salt", "status", "winner", "description")
        )
        _ASSIGN_SQL[lock] = (
            f"SELECT {cols}, (SELECT x.{qn('variant')} FROM {qn(exposure.db_table)} x "
            f"WHERE x.{qn(exposure.get_field('experiment').column)} = e.{qn('id')} "
            f"AND x.{qn(exposure.get_field('user').column)} = %s) "
            f"FROM {qn(exp.db_table)} e WHERE e.{qn(exp.get_field('key').column)} = %s"
            + (_share_lock() if lock else "")
        )
    return _ASSIGN_SQL[lock]


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _assign_row(experiment: str, user: str, *, lock: bool = False):
    if not (isinstance(experiment, str) and KEY_RE.fullmatch(experiment)):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_assign_sql(lock), [user, experiment])
        return cursor.fetchone()


def _serve(row, user: str) -> tuple[str, bool]:
    """Return the variant to serve from an assign row, and whether to expose the user."""
    _, _, variants, weights, salt, status, winner, _, exposed = row
    variants = _json(variants)
    if status == Status.STOPPED:
        return winner or variants[0], False
    if status == Status.PAUSED:
        return variants[0], False  # the control for everyone, exposed or not
    if exposed is not None:
        return exposed, False
    return assign_variant(user, salt, variants, _json(weights)), True


def assign(*, experiment: str, user: str, actor: str, record: bool = True) -> dict:
    """Return the user's variant; store the first exposure of a running experiment.

    The hot path is one SELECT (the experiment with the user's exposure as a
    subquery): a repeat assignment writes nothing. Paused: everyone gets the
    control and nobody new is exposed. Stopped: the winner (or the control) for
    everyone.
    """
    check_user(user)
    row = _assign_row(experiment, user)
    if row is None:
        raise ApiError(f"No experiment {experiment!r}.", code="unknown_experiment", status_code=404)
    variant, expose = _serve(row, user)
    if expose and record:
        now = timezone.now()
        with transaction.atomic():
            # Read again under the share lock: a pause, stop or definition change
            # committed since the read above decides what is served and stored.
            row = _assign_row(experiment, user, lock=True)
            if row is None:
                raise ApiError(
                    f"No experiment {experiment!r}.", code="unknown_experiment", status_code=404
                )
            variant, expose = _serve(row, user)
            if expose and _insert_exposures([(row[0], user, variant)], now):
                line = _exposure_line(row[1], user, variant, actor, mirror.now_iso(now))
                mirror.append(STREAM, line)
    key, description = row[1], row[7]
    return {"user": user, "experiment": key, "variant": variant, "description": description}


# --- events -----------------------------------------------------------------------


class _Exp(NamedTuple):
    """What event checks read from an experiment; compared to detect a concurrent change."""

    id: int
    key: str
    status: str
    winner: str
    variants: list
    weights: list
    salt: str


def _load_experiments(keys: set, *, lock: bool = False) -> dict[str, _Exp]:
    keys = sorted(k for k in keys if isinstance(k, str) and KEY_RE.fullmatch(k))
    if not keys:
        return {}
    qn = connection.ops.quote_name
    opts = Experiment._meta
    names = ("id", "key", "status", "winner", "variants", "weights", "salt")
    cols = ", ".join(qn(opts.get_field(n).column) for n in names)
    key_col = qn(opts.get_field("key").column)
    sql = (
        f"SELECT {cols} FROM {qn(opts.db_table)} WHERE {key_col} IN "
        f"({', '.join(['%s'] * len(keys))}) ORDER BY {qn('id')}" + (_share_lock() if lock else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, keys)
        rows = cursor.fetchall()
    return {r[1]: _Exp(r[0], r[1], r[2], r[3], _json(r[4]), _json(r[5]), r[6]) for r in rows}


def _load_exposures(experiments: dict[str, _Exp], events: list) -> dict[tuple[int, str], str]:
    """Return {(experiment id, user): variant} for the batch's exposed users."""
    by_exp: dict[int, set[str]] = {}
    for item in events:
        if isinstance(item, dict) and isinstance(item.get("user"), str):
            exp = experiments.get(item.get("exp")) if isinstance(item.get("exp"), str) else None
            if exp is not None:
                by_exp.setdefault(exp.id, set()).add(item["user"])
    exposed: dict[tuple[int, str], str] = {}
    for exp_id, users in by_exp.items():
        users = sorted(users)
        for start in range(0, len(users), 500):
            found = Exposure.objects.filter(
                experiment_id=exp_id, user__in=users[start : start + 500]
            ).values_list("user", "variant")
            exposed.update(((exp_id, u), v) for u, v in found)
    return exposed


@dataclass
class _Pending:
    exp: _Exp
    user: str
    variant: str
    event: str
    value: float | None
    needs_exposure: bool


def _fail(message: str, code: str, status: int, index: int | None, **extra) -> ApiError:
    if index is not None:
        return ApiError(
            f"event {index}: {message}",
            code=code,
            status_code=status,
            extra={"index": index, **extra},
        )
    return ApiError(message, code=code, status_code=status, extra=extra)


def _check_events(
    events: list, experiments: dict[str, _Exp], exposed: dict, indexed: bool
) -> list[_Pending]:
    """Run every check on each event in turn: the first failure is the lowest index."""
    pending = []
    for i, item in enumerate(events):
        where = i if indexed else None
        if isinstance(item, ApiError):
            raise item  # the caller could not parse this one; its turn has come
        if not isinstance(item, dict):
            raise _fail("An event must be a JSON object.", "invalid", 400, where)
        try:
            name = check_event_name(item.get("event"))
            user = check_user(item.get("user"))
            value = check_value(item.get("value"))
        except ApiError as exc:
            raise _fail(str(exc.detail), "invalid", 400, where) from None
        key = item.get("exp")
        exp = experiments.get(key) if isinstance(key, str) else None
        if exp is None:
            raise _fail(f"No experiment {key!r}.", "unknown_experiment", 404, where)
        given = item.get("variant")
        if given is not None and (not isinstance(given, str) or given not in exp.variants):
            raise _fail(
                f"{given!r} is not a variant of {exp.key!r} ({', '.join(exp.variants)}).",
                "unknown_variant",
                400,
                where,
            )
        if exp.status == Status.STOPPED:
            raise _fail(
                f"Experiment {exp.key!r} is stopped: events are no longer accepted.",
                "experiment_stopped",
                409,
                where,
            )
        # An exposed user's variant is the one results count them under (the same
        # as the deterministic assignment: exposures lock the definition).
        expected = exposed.get((exp.id, user))
        is_exposed = expected is not None
        if not is_exposed:
            expected = assign_variant(user, exp.salt, exp.variants, exp.weights)
        if given is not None and given != expected:
            raise _fail(
                f"User {user!r} is assigned {expected!r} in {exp.key!r}, not {given!r}.",
                "variant_mismatch",
                409,
                where,
                expected=expected,
            )
        if not is_exposed and exp.status == Status.PAUSED:
            raise _fail(
                f"Experiment {exp.key!r} is paused and user {user!r} was never exposed.",
                "not_exposed",
                409,
                where,
            )
        pending.append(_Pending(exp, user, expected, name, value, not is_exposed))
    return pending


def log_events(*, events: list, actor: str, indexed: bool = True) -> dict:
    """Store events (one or a batch of up to 1,000) in one transaction: all or nothing.

    Each event is `{"event", "user", "exp", "variant"?, "value"?}`, or an
    `ApiError` for an item the caller could not parse (raised in its turn, so
    the error names the lowest bad index whatever the kind of failure). The
    variant, when given, must be the user's assignment (409 `variant_mismatch`).
    Running: an unexposed user is exposed now. Paused: only exposed users'
    events (409 `not_exposed`). Stopped: refused (409 `experiment_stopped`).
    """
    if len(events) > BATCH_MAX:
        raise ApiError(
            f"A batch holds at most {BATCH_MAX} events; got {len(events)}.",
            code="batch_too_large",
        )
    if not events:
        raise ApiError("The batch is empty.", code="invalid")

    keys = {item.get("exp") for item in events if isinstance(item, dict)}
    keys = {k for k in keys if isinstance(k, str)}
    experiments = _load_experiments(keys)
    pending = _check_events(events, experiments, _load_exposures(experiments, events), indexed)

    now = timezone.now()
    ts = mirror.now_iso(now)
    with transaction.atomic():
        # Read the experiments again under the share lock: a stop, pause or
        # definition change committed since the checks above must decide.
        current = _load_experiments(keys, lock=True)
        if current != experiments:
            exposed = _load_exposures(current, events)
            pending = _check_events(events, current, exposed, indexed)
        wanted: dict[tuple[int, str], _Pending] = {}
        for p in pending:
            if p.needs_exposure:
                wanted.setdefault((p.exp.id, p.user), p)
        inserted = _insert_exposures([(e, u, p.variant) for (e, u), p in wanted.items()], now)
        Event.objects.bulk_create(
            [
                Event(
                    experiment_id=p.exp.id,
                    user=p.user,
                    variant=p.variant,
                    event=p.event,
                    value=p.value,
                    created_at=now,
                )
                for p in pending
            ],
            batch_size=500,
        )
        lines = [
            _exposure_line(wanted[k].exp.key, k[1], wanted[k].variant, actor, ts)
            for k in wanted
            if k in inserted
        ]
        lines += [
            {
                "type": "event",
                "ts_iso": ts,
                "experiment": p.exp.key,
                "user": p.user,
                "variant": p.variant,
                "event": p.event,
                "value": p.value,
                "actor": actor,
            }
            for p in pending
        ]
        mirror.append_many(STREAM, lines)
    first = pending[0]
    return {
        "stored": len(pending),
        "exposures_recorded": len(inserted),
        "experiment": first.exp.key,
        "user": first.user,
        "variant": first.variant,
        "event": first.event,
        "value": first.value,
    }


def log_event(
    *,
    event: str,
    user: str,
    experiment: str,
    variant: str | None = None,
    value: float | None = None,
    actor: str,
) -> dict:
    """Store one event (see `log_events`)."""
    item = {"event": event, "user": user, "exp": experiment, "variant": variant, "value": value}
    return log_events(events=[item], actor=actor, indexed=False)
