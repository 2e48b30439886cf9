"""Assignment, exposures and events: the hot paths."""

import json
import math
from dataclasses import dataclass, field

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


_ASSIGN_SQL: str | None = None


def _assign_sql() -> str:
    """Return the hot-path query: the experiment and the user's exposure, in one SELECT.

    Raw SQL because building the equivalent queryset costs several times the
    query itself on every request (the assign endpoint is the hot path).
    """
    global _ASSIGN_SQL
    if _ASSIGN_SQL is None:
        qn = connection.ops.quote_name
        exp, exposure = Experiment._meta, Exposure._meta
        cols = ", ".join(
            f"e.{qn(exp.get_field(n).column)}"
            for n in ("id", "key", "variants", "weights", "salt", "status", "winner", "description")
        )
        _ASSIGN_SQL = (
            f"SELECT {cols}, (SELECT x.{qn('variant')} FROM {qn(exposure.db_table)} x "
            f"WHERE x.{qn(exposure.get_field('experiment').column)} = e.{qn('id')} "
            f"AND x.{qn(exposure.get_field('user').column)} = %s) "
            f"FROM {qn(exp.db_table)} e WHERE e.{qn(exp.get_field('key').column)} = %s"
        )
    return _ASSIGN_SQL


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def assign(*, experiment: str, user: str, actor: str, record: bool = True) -> dict:
    """Return the user's variant; store the first exposure of a running experiment.

    The hot path is one SELECT (the experiment with the user's exposure as a
    subquery): a repeat assignment writes nothing. Paused: exposed users keep
    their variant, others get the control and are not exposed. Stopped: the
    winner (or the control) for everyone.
    """
    check_user(user)
    row = None
    if isinstance(experiment, str) and KEY_RE.match(experiment):
        with connection.cursor() as cursor:
            cursor.execute(_assign_sql(), [user, experiment])
            row = cursor.fetchone()
    if row is None:
        raise ApiError(f"No experiment {experiment!r}.", code="unknown_experiment", status_code=404)
    exp_id, key, variants, weights, salt, status, winner, description, exposed = row
    variants = _json(variants)
    if status == Status.STOPPED:
        variant = winner or variants[0]
    elif exposed is not None:
        variant = exposed
    elif status == Status.PAUSED:
        variant = variants[0]
    else:
        variant = assign_variant(user, salt, variants, _json(weights))
        if record:
            now = timezone.now()
            with transaction.atomic():
                if _insert_exposures([(exp_id, user, variant)], now):
                    line = _exposure_line(key, user, variant, actor, mirror.now_iso(now))
                    mirror.append(STREAM, line)
    return {"user": user, "experiment": key, "variant": variant, "description": description}


# --- events -----------------------------------------------------------------------


@dataclass
class _Pending:
    index: int
    exp: Experiment
    user: str
    variant: str
    event: str
    value: float | None
    needs_exposure: bool = field(default=False)


def _fail(message: str, code: str, status: int, index: int | None, **extra) -> ApiError:
    if index is not None:
        return ApiError(
            f"event {index}: {message}",
            code=code,
            status_code=status,
            extra={"index": index, **extra},
        )
    return ApiError(message, code=code, status_code=status, extra=extra)


def _finite_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def log_events(*, events: list[dict], actor: str, indexed: bool = True) -> dict:
    """Store events (one or a batch of up to 1,000) in one transaction: all or nothing.

    Each event is `{"event", "user", "exp", "variant"?, "value"?}`. The variant,
    when given, must be the user's deterministic assignment (409
    `variant_mismatch`). Running: an unexposed user is exposed now. Paused:
    only exposed users' events (409 `not_exposed`). Stopped: refused (409
    `experiment_stopped`). A failure names the index of the first bad event.
    """
    if len(events) > BATCH_MAX:
        raise ApiError(
            f"A batch holds at most {BATCH_MAX} events; got {len(events)}.",
            code="batch_too_large",
        )
    if not events:
        raise ApiError("The batch is empty.", code="invalid")

    def where(i):
        return i if indexed else None

    for i, item in enumerate(events):
        try:
            check_event_name(item.get("event"))
            check_user(item.get("user"))
        except ApiError as exc:
            raise _fail(str(exc.detail), "invalid", 400, where(i)) from None
        value = item.get("value")
        if value is not None and not _finite_number(value):
            raise _fail("'value' must be a finite number.", "invalid", 400, where(i))

    keys = {item.get("exp") for item in events}
    valid_keys = [k for k in keys if isinstance(k, str) and KEY_RE.match(k)]
    experiments = {e.key: e for e in Experiment.objects.filter(key__in=valid_keys)}
    pending: list[_Pending] = []
    for i, item in enumerate(events):
        exp = experiments.get(item.get("exp"))
        if exp is None:
            raise _fail(f"No experiment {item.get('exp')!r}.", "unknown_experiment", 404, where(i))
        user = item["user"]
        given = item.get("variant")
        if given is not None and given not in exp.variants:
            raise _fail(
                f"{given!r} is not a variant of {exp.key!r} ({', '.join(exp.variants)}).",
                "unknown_variant",
                400,
                where(i),
            )
        if exp.status == Status.STOPPED:
            raise _fail(
                f"Experiment {exp.key!r} is stopped: events are no longer accepted.",
                "experiment_stopped",
                409,
                where(i),
            )
        expected = assign_variant(user, exp.salt, exp.variants, exp.weights)
        if given is not None and given != expected:
            raise _fail(
                f"User {user!r} is assigned {expected!r} in {exp.key!r}, not {given!r}.",
                "variant_mismatch",
                409,
                where(i),
                expected=expected,
            )
        value = item.get("value")
        pending.append(
            _Pending(i, exp, user, expected, item["event"], None if value is None else float(value))
        )

    # Which users are already exposed: one query per experiment (and 500 users).
    exposed: set[tuple[int, str]] = set()
    by_exp: dict[int, set[str]] = {}
    for p in pending:
        by_exp.setdefault(p.exp.id, set()).add(p.user)
    for exp_id, users in by_exp.items():
        users = sorted(users)
        for start in range(0, len(users), 500):
            found = Exposure.objects.filter(
                experiment_id=exp_id, user__in=users[start : start + 500]
            ).values_list("user", flat=True)
            exposed.update((exp_id, u) for u in found)
    for p in pending:
        if (p.exp.id, p.user) in exposed:
            continue
        if p.exp.status == Status.PAUSED:
            raise _fail(
                f"Experiment {p.exp.key!r} is paused and user {p.user!r} was never exposed.",
                "not_exposed",
                409,
                where(p.index),
            )
        p.needs_exposure = True

    now = timezone.now()
    ts = mirror.now_iso(now)
    wanted: dict[tuple[int, str], _Pending] = {}
    for p in pending:
        if p.needs_exposure:
            wanted.setdefault((p.exp.id, p.user), p)
    with transaction.atomic():
        inserted = _insert_exposures([(e, u, p.variant) for (e, u), p in wanted.items()], now)
        Event.objects.bulk_create(
            [
                Event(
                    experiment=p.exp,
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
