"""Reads: the experiment list and results, computed by aggregate queries in the database."""

from django.db.models import Count, QuerySet, Sum

from experiments import stats
from experiments.models import Event, Experiment, Exposure
from experiments.services import check_event_name, get_experiment


def list_experiments() -> QuerySet[Experiment]:
    """Return the experiments by key, each annotated with its `exposure_count`."""
    return Experiment.objects.annotate(exposure_count=Count("exposures")).order_by("key")


def format_arms(exp: Experiment) -> str:
    """Return the variants with their weights: `A (1), B (1)` (admin list and command)."""
    return ", ".join(f"{v} ({w})" for v, w in zip(exp.variants, exp.weights, strict=True))


def variant_counts(exp: Experiment, event: str) -> list[dict]:
    """Return users, converters and value sum per variant, control first (2 queries)."""
    users = dict(
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
    rows = []
    for variant in exp.variants:
        c = converted.get(variant, {})
        rows.append(
            {
                "variant": variant,
                "users": users.get(variant, 0),
                "converters": c.get("converters", 0),
                "value_sum": c.get("total") or 0.0,
            }
        )
    return rows


def compute(exp: Experiment, event: str, counts: list[dict]) -> dict:
    """Turn per-variant counts into the results document (pure arithmetic)."""
    control = counts[0]
    x0, n0 = control["converters"], control["users"]
    variants = []
    for i, row in enumerate(counts):
        x, n = row["converters"], row["users"]
        rate = x / n if n else None
        out = {
            "variant": row["variant"],
            "users": n,
            "converters": x,
            "rate": rate,
            "rate_ci": stats.wilson(x, n),
            "uplift_abs": None,
            "uplift_abs_ci": None,
            "uplift_rel": None,
            "uplift_rel_ci": None,
            "p_value": None,
            "prob_beat_control": None,
            "mean_value": row["value_sum"] / n if n else None,
        }
        if i > 0 and n and n0:
            rate0 = x0 / n0
            out["uplift_abs"] = rate - rate0
            out["uplift_abs_ci"] = stats.diff_ci(x, n, x0, n0)
            out["uplift_rel"] = (rate - rate0) / rate0 if x0 else None
            out["uplift_rel_ci"] = stats.relative_ci(x, n, x0, n0)
            out["p_value"] = stats.ztest_pooled(x, n, x0, n0)
            out["prob_beat_control"] = stats.prob_beat_control(x, n, x0, n0)
        variants.append(out)
    return {
        "experiment": exp.key,
        "event": event,
        "status": exp.status,
        "variants": variants,
        "srm": stats.srm([r["users"] for r in counts], list(exp.weights)),
    }


def results(*, experiment: str, event: str = "conversion") -> dict:
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
