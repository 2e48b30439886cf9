"""Experiment definitions: create, update (locked once exposed), status, config file."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from echopilot import mirror
from echopilot.config import read_json_config
from echopilot.exceptions import Conflict, Invalid
from experiments.models import Experiment, Exposure, Status
from experiments.services.validation import (
    ASSIGNMENT_FIELDS,
    STREAM,
    ConfigError,
    Definition,
    check_salt_free,
    get_experiment,
    invalid_definition,
    parse_definition,
)


def _record(exp: Experiment, action: str, actor: str, **extra: Any) -> None:
    mirror.append(
        STREAM,
        {
            "type": "experiment",
            "action": action,
            "experiment": exp.key,
            "status": exp.status,
            "winner": exp.winner or None,
            "variants": exp.variants,
            "weights": exp.weights,
            "actor": actor,
            **extra,
        },
    )


# --- experiment definitions -------------------------------------------------------


def experiment_create(
    *,
    key: str,
    variants: list[str],
    weights: list[int] | None = None,
    salt: str | None = None,
    description: str = "",
    analysis: str | None = None,
    planned_users: int | None = None,
    metrics: dict | None = None,
    actor: str,
) -> Experiment:
    """Create an experiment; refuse a taken key (409) or a salt in use (409)."""
    raw: dict[str, Any] = {"variants": variants, "weights": weights, "salt": salt}
    raw["description"] = description
    raw.update(analysis=analysis, planned_users=planned_users, metrics=metrics)
    try:
        definition = parse_definition(key, raw)
    except ConfigError as exc:
        raise invalid_definition(exc) from None
    return _create(definition, actor)


def _create(definition: Definition, actor: str) -> Experiment:
    if Experiment.objects.filter(key=definition.key).exists():
        raise Conflict(f"Experiment {definition.key!r} already exists.", code="experiment_exists")
    check_salt_free(definition.salt, definition.key)
    exp = Experiment(
        key=definition.key,
        variants=definition.variants,
        weights=definition.weights,
        salt=definition.salt,
        description=definition.description,
        analysis=definition.analysis,
        planned_users=definition.planned_users,
        metrics=definition.metrics,
        updated_by=actor,
    )
    try:
        with transaction.atomic():
            exp.save()
            _record(exp, "created", actor, salt=exp.salt, description=exp.description)
    except IntegrityError:
        # Lost a race with a concurrent create of the same key or salt.
        raise Conflict(
            f"Experiment {definition.key!r} or its salt was created concurrently.",
            code="experiment_exists",
        ) from None
    return exp


def is_locked(exp: Experiment) -> bool:
    """Return whether users were exposed, which freezes variants, weights and salt."""
    return Exposure.objects.filter(experiment=exp).exists()


def experiment_update(
    *,
    key: str,
    variants: list[str] | None = None,
    weights: list[int] | None = None,
    salt: str | None = None,
    description: str | None = None,
    analysis: str | None = None,
    planned_users: int | None = None,
    metrics: dict | None = None,
    actor: str,
) -> Experiment:
    """Change an experiment's definition; 409 `experiment_locked` once users are exposed.

    Changing variants, weights or salt after exposures would move users
    between variants mid-test; the description, analysis, planned users and
    metrics can always change (they change how results are read, not who sees what).
    """
    # One transaction with the row locked: the lock check below must still hold
    # when the row is saved, and unnamed fields are merged from the current row.
    # `assign` and `log_events` re-read the row under a share lock before they
    # insert an exposure, so they wait for this change or this change waits for them.
    with transaction.atomic():
        exp = get_experiment(key, for_update=True)
        new_variants = exp.variants if variants is None else variants
        if variants is not None and weights is None and len(variants) != len(exp.weights):
            weights = [1] * len(variants) if isinstance(variants, list) else None
        raw = {
            "variants": new_variants,
            "weights": exp.weights if weights is None else weights,
            "salt": exp.salt if salt is None else salt,
            "description": exp.description if description is None else description,
            "analysis": exp.analysis if analysis is None else analysis,
            "planned_users": exp.planned_users if planned_users is None else planned_users,
            "metrics": exp.metrics if metrics is None else metrics,
        }
        try:
            definition = parse_definition(key, raw)
        except ConfigError as exc:
            raise invalid_definition(exc) from None
        return _update(exp, definition, actor)


def _update(exp: Experiment, definition: Definition, actor: str) -> Experiment:
    """Apply `definition` to `exp`; call in a transaction holding `exp`'s row lock."""
    changed = definition.differences(exp)
    if not changed:
        return exp
    assignment_fields = set(ASSIGNMENT_FIELDS) & set(changed)
    if assignment_fields and is_locked(exp):
        raise Conflict(
            f"Experiment {exp.key!r} has exposures: its {', '.join(sorted(assignment_fields))} "
            "cannot change (that would move users between variants mid-test).",
            code="experiment_locked",
        )
    if "salt" in changed:
        check_salt_free(definition.salt, exp.key)
    for name in changed:
        setattr(exp, name, getattr(definition, name))
    exp.updated_by = actor
    try:
        with transaction.atomic():
            exp.save()
    except IntegrityError:
        # Lost a race with a concurrent create or update taking the same salt.
        raise Conflict(
            f"Salt {exp.salt!r} was taken concurrently by another experiment.",
            code="duplicate_salt",
        ) from None
    _record(exp, "updated", actor, changed=changed)
    return exp


def experiment_set_status(
    *, key: str, status: str, winner: str | None = None, actor: str
) -> Experiment:
    """Pause, resume or stop an experiment (stopping may declare a winner).

    A stopped experiment stays stopped: resuming it would mix two tests' data.
    """
    if status not in Status.values:
        raise Invalid(f"Unknown status {status!r}.")
    if winner and status != Status.STOPPED:
        raise Invalid("A winner can only be declared when stopping.")
    # Read and write under the row lock: two concurrent changes are applied one
    # after the other, so a stop cannot be overwritten by a resume read before it.
    with transaction.atomic():
        exp = get_experiment(key, for_update=True)
        if winner and winner not in exp.variants:
            raise Invalid(
                f"{winner!r} is not a variant of {key!r} ({', '.join(exp.variants)}).",
                code="unknown_variant",
            )
        if exp.status == Status.STOPPED and status != Status.STOPPED:
            raise Conflict(
                f"Experiment {key!r} is stopped and cannot be resumed or paused.",
                code="experiment_stopped",
            )
        if exp.status == status and (not winner or winner == exp.winner):
            return exp  # nothing changes: no write, no line
        exp.status = status
        if status == Status.STOPPED and winner:
            exp.winner = winner
        exp.updated_by = actor
        exp.save(update_fields=["status", "winner", "updated_at", "updated_by"])
        _record(exp, "status", actor)
    return exp


# --- the config file --------------------------------------------------------------


def config_path() -> Path:
    return Path(settings.CONFIG_DIR) / "experiments.json"


def read_config(path: Path) -> list[Definition]:
    """Parse and validate a config file; raise ConfigError naming the problem."""
    data = read_json_config(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object of experiments")
    definitions = []
    salts: dict[str, str] = {}
    for key, raw in data.items():
        try:
            definition = parse_definition(key, raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if definition.salt in salts:
            raise ConfigError(
                f"{path}: {key}: salt {definition.salt!r} is also used by "
                f"{salts[definition.salt]!r}; salts must be unique across experiments"
            )
        salts[definition.salt] = key
        definitions.append(definition)
    return definitions


@dataclass
class LoadResult:
    key: str
    action: str  # created | unchanged | updated | differs
    detail: str = ""


def load_config(
    *, path: Path | None = None, update: bool = False, actor: str = "config"
) -> list[LoadResult]:
    """Create the experiments in the config file that are missing; overwrite nothing.

    An existing experiment that differs from the file is reported and kept,
    unless `update` is set (then the change obeys `experiment_locked`). The
    whole file is validated first and applied in one transaction.
    """
    path = path or config_path()
    try:
        definitions = read_config(path)
    except ConfigError as exc:
        raise invalid_definition(exc) from None
    results = []
    with transaction.atomic():
        # Locked, so `_update`'s exposure check holds until the commit.
        existing = {
            e.key: e
            for e in Experiment.objects.select_for_update().filter(
                key__in=[d.key for d in definitions]
            )
        }
        for d in definitions:
            exp = existing.get(d.key)
            if exp is None:
                _create(d, actor)
                results.append(LoadResult(d.key, "created"))
                continue
            changed = d.differences(exp)
            if not changed:
                results.append(LoadResult(d.key, "unchanged"))
            elif update:
                _update(exp, d, actor)
                results.append(LoadResult(d.key, "updated", ", ".join(changed)))
            else:
                results.append(
                    LoadResult(
                        d.key,
                        "differs",
                        f"{', '.join(changed)} differ from the file; kept (use --update)",
                    )
                )
    return results
