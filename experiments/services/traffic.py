"""Assignment, exposures and events: the hot paths."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from django.db import transaction
from django.utils import timezone

from echopilot import metrics, mirror
from echopilot.exceptions import Conflict, Invalid, ServiceError
from echopilot.parsers import text_problem
from experiments.assignment import assign_variant
from experiments.limits import BATCH_MAX
from experiments.models import Status
from experiments.services.aggregates import NewEvent, add_events, add_exposures
from experiments.services.sql import (
    AssignRow,
    ExpRow,
    assign_row,
    chunks,
    exposed_variants,
    insert_events,
    insert_exposures,
    load_experiments,
)
from experiments.services.validation import (
    STREAM,
    check_event_name,
    check_user,
    check_value,
    metric_event_names,
    unknown_experiment,
)


class Assignment(TypedDict):
    """What `assign` returns (the API adds `ok`)."""

    user: str
    experiment: str
    variant: str
    description: str


class Logged(TypedDict):
    """What `log_events` returns: counts, and the first event as stored."""

    stored: int
    exposures_recorded: int
    experiment: str
    user: str
    variant: str
    event: str
    value: float | None


# --- assignment and exposures ----------------------------------------------------


def _exposure_line(key: str, user: str, variant: str, actor: str, ts: str) -> dict[str, Any]:
    return {
        "type": "exposure",
        "ts_iso": ts,
        "experiment": key,
        "user": user,
        "variant": variant,
        "actor": actor,
    }


def _serve(row: AssignRow, user: str) -> tuple[str, bool]:
    """Return the variant to serve from an assign row, and whether to expose the user."""
    if row.status == Status.STOPPED:
        return row.winner or row.variants[0], False
    if row.status == Status.PAUSED:
        return row.variants[0], False  # the control for everyone, exposed or not
    if row.exposed is not None:
        return row.exposed, False
    return assign_variant(user, row.salt, row.variants, row.weights), True


def assign(*, experiment: str, user: str, actor: str, record: bool = True) -> Assignment:
    """Return the user's variant; store the first exposure of a running experiment.

    The hot path is one SELECT (the experiment with the user's exposure as a
    subquery): a repeat assignment writes nothing. Paused: everyone gets the
    control and nobody new is exposed. Stopped: the winner (or the control) for
    everyone.
    """
    check_user(user)
    row = assign_row(experiment, user)
    if row is None:
        raise unknown_experiment(experiment)
    variant, expose = _serve(row, user)
    if expose and record:
        now = timezone.now()
        with transaction.atomic():
            # Read again under the share lock: a pause, stop or definition change
            # committed since the read above decides what is served and stored.
            row = assign_row(experiment, user, lock=True)
            if row is None:
                raise unknown_experiment(experiment)
            variant, expose = _serve(row, user)
            if expose and insert_exposures([(row.id, user, variant)], now):
                line = _exposure_line(row.key, user, variant, actor, mirror.now_iso(now))
                mirror.append(STREAM, line)
                add_exposures([(row.id, variant)], now)
                metrics.exposures_stored([(row.key, variant)])
    return {"user": user, "experiment": row.key, "variant": variant, "description": row.description}


# --- events -----------------------------------------------------------------------


def _load_exposures(
    experiments: dict[str, ExpRow], items: list[dict[Any, Any]]
) -> dict[tuple[int, str], str]:
    """Return {(experiment id, user): variant} for the batch's exposed users."""
    by_exp: dict[int, set[str]] = {}
    for item in items:
        user, key = item.get("user"), item.get("exp")
        # A user that cannot be stored cannot be a query parameter either (NUL on
        # PostgreSQL); `check_user` refuses that event in its turn.
        if isinstance(user, str) and isinstance(key, str) and not text_problem(user):
            exp = experiments.get(key)
            if exp is not None:
                by_exp.setdefault(exp.id, set()).add(user)
    exposed: dict[tuple[int, str], str] = {}
    for exp_id, users in by_exp.items():
        for chunk in chunks(sorted(users)):
            exposed.update(((exp_id, u), v) for u, v in exposed_variants(exp_id, chunk))
    return exposed


@dataclass
class _Pending:
    exp: ExpRow
    user: str
    variant: str
    event: str
    value: float | None
    needs_exposure: bool


def _check_event(
    item: object, experiments: dict[str, ExpRow], exposed: dict[tuple[int, str], str]
) -> _Pending:
    """Run every check on one event; raise the first failure (the caller adds the index)."""
    if not isinstance(item, dict):
        raise Invalid("An event must be a JSON object.")
    name = check_event_name(item.get("event"))
    user = check_user(item.get("user"))
    value = check_value(item.get("value"))
    key = item.get("exp")
    exp = experiments.get(key) if isinstance(key, str) else None
    if exp is None:
        raise unknown_experiment(key)
    given = item.get("variant")
    if given is not None and (not isinstance(given, str) or given not in exp.variants):
        raise Invalid(
            f"{given!r} is not a variant of {exp.key!r} ({', '.join(exp.variants)}).",
            code="unknown_variant",
        )
    if exp.status == Status.STOPPED:
        raise Conflict(
            f"Experiment {exp.key!r} is stopped: events are no longer accepted.",
            code="experiment_stopped",
        )
    # An exposed user's variant is the one results count them under (the same
    # as the deterministic assignment: exposures lock the definition).
    expected = exposed.get((exp.id, user))
    needs_exposure = expected is None
    if expected is None:
        expected = assign_variant(user, exp.salt, exp.variants, exp.weights)
    if given is not None and given != expected:
        raise Conflict(
            f"User {user!r} is assigned {expected!r} in {exp.key!r}, not {given!r}.",
            code="variant_mismatch",
            expected=expected,
        )
    if needs_exposure and exp.status == Status.PAUSED:
        raise Conflict(
            f"Experiment {exp.key!r} is paused and user {user!r} was never exposed.",
            code="not_exposed",
        )
    return _Pending(exp, user, expected, name, value, needs_exposure)


def _check_events(
    events: Sequence[object],
    problems: Mapping[int, str],
    experiments: dict[str, ExpRow],
    exposed: dict[tuple[int, str], str],
    indexed: bool,
) -> list[_Pending]:
    """Check each event in turn: the error names the lowest bad index, whatever its kind."""
    pending = []
    for i, item in enumerate(events):
        try:
            if i in problems:
                raise Invalid(problems[i])  # the caller could not parse this one
            pending.append(_check_event(item, experiments, exposed))
        except ServiceError as exc:
            if not indexed:
                raise
            raise type(exc)(
                f"event {i}: {exc.detail}", code=exc.code, index=i, **exc.extra
            ) from None
    return pending


def _event_line(p: _Pending, actor: str, ts: str) -> dict[str, Any]:
    return {
        "type": "event",
        "ts_iso": ts,
        "experiment": p.exp.key,
        "user": p.user,
        "variant": p.variant,
        "event": p.event,
        "value": p.value,
        "actor": actor,
    }


def _store(pending: list[_Pending], actor: str, now: datetime) -> int:
    """Store the events and the exposures they need, mirror both; return new exposures.

    Call inside the transaction that checked `pending` under the share lock.
    """
    wanted: dict[tuple[int, str], _Pending] = {}
    for p in pending:
        if p.needs_exposure:
            wanted.setdefault((p.exp.id, p.user), p)
    inserted = insert_exposures([(e, u, p.variant) for (e, u), p in wanted.items()], now)
    insert_events([(p.exp.id, p.user, p.variant, p.event, p.value) for p in pending], now)
    ts = mirror.now_iso(now)
    lines = [
        _exposure_line(p.exp.key, user, p.variant, actor, ts)
        for (exp_id, user), p in wanted.items()
        if (exp_id, user) in inserted
    ]
    lines += [_event_line(p, actor, ts) for p in pending]
    mirror.append_many(STREAM, lines)
    # The aggregates last: their per-day rows are the ones every writer shares,
    # so they are held locked for the shortest time before the commit.
    add_exposures([(e, wanted[(e, u)].variant) for e, u in sorted(inserted)], now)
    add_events([NewEvent(p.exp.id, p.user, p.variant, p.event, p.value) for p in pending], now)
    metrics.exposures_stored((p.exp.key, p.variant) for k, p in wanted.items() if k in inserted)
    metrics.events_stored(*_event_labels(pending))
    return len(inserted)


def check_batch_size(count: int) -> None:
    """Refuse an empty batch (400 `invalid`) or one over the limit (400 `batch_too_large`)."""
    if count > BATCH_MAX:
        raise Invalid(
            f"A batch holds at most {BATCH_MAX} events; got {count}.", code="batch_too_large"
        )
    if not count:
        raise Invalid("The batch is empty.")


def log_events(
    *,
    events: Sequence[object],
    actor: str,
    indexed: bool = True,
    problems: Mapping[int, str] | None = None,
) -> Logged:
    """Store events (one or a batch of up to BATCH_MAX) in one transaction: all or nothing.

    Each event is `{"event", "user", "exp", "variant"?, "value"?}`. `problems`
    maps the index of an item the caller could not parse to why (plain text);
    it is reported in its turn, so the error names the lowest bad index
    whatever the kind of failure (`indexed`: as `event <i>: …` with `index`).
    The variant, when given, must be the user's assignment (409
    `variant_mismatch`). Running: an unexposed user is exposed now. Paused:
    only exposed users' events (409 `not_exposed`). Stopped: refused (409
    `experiment_stopped`).
    """
    check_batch_size(len(events))
    problems = problems or {}
    parsed = [e for i, e in enumerate(events) if i not in problems and isinstance(e, dict)]
    keys = {k for k in (e.get("exp") for e in parsed) if isinstance(k, str)}
    experiments = load_experiments(keys)
    exposed = _load_exposures(experiments, parsed)
    pending = _check_events(events, problems, experiments, exposed, indexed)
    now = timezone.now()
    with transaction.atomic():
        # Read the experiments again under the share lock: a stop, pause or
        # definition change committed since the checks above must decide.
        current = load_experiments(keys, lock=True)
        if current != experiments:
            exposed = _load_exposures(current, parsed)
            pending = _check_events(events, problems, current, exposed, indexed)
        inserted = _store(pending, actor, now)
    first = pending[0]
    return {
        "stored": len(pending),
        "exposures_recorded": inserted,
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
) -> Logged:
    """Store one event (see `log_events`)."""
    item = {"event": event, "user": user, "exp": experiment, "variant": variant, "value": value}
    return log_events(events=[item], actor=actor, indexed=False)


def _event_labels(pending: Sequence[_Pending]) -> tuple[list[tuple[str, str]], set[str]]:
    """Return (experiment, event) pairs for the events counter and the names it may show.

    An event an experiment does not declare in its metrics (primary, secondary,
    guardrails; `conversion` by default) is counted as `other`: names are free text.
    """
    declared: dict[int, set[str]] = {}
    pairs = []
    for p in pending:
        names = declared.setdefault(p.exp.id, set(metric_event_names(p.exp.metrics)))
        pairs.append((p.exp.key, p.event if p.event in names else "other"))
    return pairs, set().union(*declared.values())
