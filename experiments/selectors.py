"""Reads: the experiment list and results, computed by aggregate queries in the database."""

from typing import TypedDict

from django.db.models import Count, QuerySet, Sum

from experiments import stats
from experiments.models import Event, Experiment, Exposure
from experiments.services import check_event_name, get_experiment


class VariantCounts(TypedDict):
    """What the database counts per variant for one event."""

    variant: str
    users: int
    converters: int
    value_sum: float


class VariantResult(TypedDict):
    """One variant's results; the comparison fields are None for the control."""

    variant: str
    users: int
    converters: int
    rate: float | None
    rate_ci: list[float] | None
    uplift_abs: float | None
    uplift_abs_ci: list[float] | None
    uplift_rel: float | None
    uplift_rel_ci: list[float] | None
    p_value: float | None
    prob_beat_control: float | None
    mean_value: float | None


class Results(TypedDict):
    """The results document (the API adds `ok`)."""

    experiment: str
    event: str
    status: str
    variants: list[VariantResult]
    srm: stats.Srm


def list_experiments() -> QuerySet[Experiment]:
    """Return the experiments by key, each annotated with its `exposure_count`."""
    return Experiment.objects.annotate(exposure_count=Count("exposures")).order_by("key")


def format_arms(exp: Experiment) -> str:
    """Return the variants with their weights: `A (1), B (1)` (admin list and command)."""
    return ", ".join(f"{v} ({w})" for v, w in zip(exp.variants, exp.weights, strict=True))


def variant_counts(exp: Experiment, event: str) -> list[VariantCounts]:
    """Return users, converters and value sum per variant, control first (2 queries)."""
    users: dict[str, int] = dict(
        Exposure.objects.filter(experiment=exp)
        .values("variant")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("variant", "n")
    )
    converted = {
        row["variant"]: row
        for row in Event.objects.filter(experiment=exp, event=event)
        .values("variant")
        .annotate(converters=Count("user", distinct=True), total=Sum("value"))
        .order_by()
    }
    rows: list[VariantCounts] = []
    for variant in exp.variants:
        c = converted.get(variant)
        rows.append(
            {
                "variant": variant,
                "users": users.get(variant, 0),
                "converters": c["converters"] if c else 0,
                "value_sum": (c["total"] if c else None) or 0.0,
            }
        )
    return rows


def _variant_result(row: VariantCounts, control: VariantCounts | None) -> VariantResult:
    """Return one variant's results; compared with `control` unless it is the control."""
    x, n = row["converters"], row["users"]
    result: VariantResult = {
        "variant": row["variant"],
        "users": n,
        "converters": x,
        "rate": x / n if n else None,
        "rate_ci": stats.wilson(x, n),
        "uplift_abs": None,
        "uplift_abs_ci": None,
        "uplift_rel": None,
        "uplift_rel_ci": None,
        "p_value": None,
        "prob_beat_control": None,
        "mean_value": row["value_sum"] / n if n else None,
    }
    if control is None or not n or not control["users"]:
        return result
    x0, n0 = control["converters"], control["users"]
    rate, rate0 = x / n, x0 / n0
    result["uplift_abs"] = rate - rate0
    result["uplift_abs_ci"] = stats.diff_ci(x, n, x0, n0)
    result["uplift_rel"] = (rate - rate0) / rate0 if x0 else None
    result["uplift_rel_ci"] = stats.relative_ci(x, n, x0, n0)
    result["p_value"] = stats.ztest_pooled(x, n, x0, n0)
    result["prob_beat_control"] = stats.prob_beat_control(x, n, x0, n0)
    return result


def compute(exp: Experiment, event: str, counts: list[VariantCounts]) -> Results:
    """Turn per-variant counts into the results document (pure arithmetic)."""
    control = counts[0]
    return {
        "experiment": exp.key,
        "event": event,
        "status": exp.status,
        "variants": [
            _variant_result(row, None if i == 0 else control) for i, row in enumerate(counts)
        ],
        "srm": stats.srm([r["users"] for r in counts], list(exp.weights)),
    }


def results(*, experiment: str, event: str = "conversion") -> Results:
    """Return the results of `experiment` for `event` (three queries, any data size)."""
    check_event_name(event)
    exp = get_experiment(experiment)
    return compute(exp, event, variant_counts(exp, event))


def event_names(exp: Experiment) -> list[str]:
    """Return the event names logged for `exp`."""
    return list(
        Event.objects.filter(experiment=exp)
        .order_by("event")
        .values_list("event", flat=True)
        .distinct()
    )
