"""Reads: the experiment list and results, from aggregates (time series: experiments.timeseries).

The verdict (`experiments.verdict`) is re-exported here, beside the results it reads.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, TypedDict

from django.db.models import IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from experiments import stats
from experiments.models import EventDay, Experiment, ExposureDay, Status
from experiments.services import check_event_name, get_experiment
from experiments.services.validation import metric_event_names
from experiments.verdict import Verdict as Verdict  # re-exported: read beside the results
from experiments.verdict import verdict as verdict

# How many past days (today included) the exposure rate behind `eta_days` covers.
ETA_WINDOW_DAYS = 7


class VariantCounts(TypedDict):
    """What the database counts per variant for one event."""

    variant: str
    users: int
    converters: int
    value_sum: float
    value_sq: float  # sum over users of their total value squared


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
    # Added by the sequential-testing and metrics issue (fields only added):
    significant: bool | None  # fixed horizon: p < 0.05
    uplift_abs_seq_ci: list[float] | None  # always-valid interval
    significant_seq: bool | None
    mean_value_ci: list[float] | None
    value_uplift: float | None
    value_uplift_ci: list[float] | None  # Welch, normal quantile


class Results(TypedDict):
    """The results document (the API adds `ok`)."""

    experiment: str
    event: str
    status: str
    variants: list[VariantResult]
    srm: stats.Srm
    analysis: str
    planned_users: int
    progress: float
    eta_days: float | None


def list_experiments() -> QuerySet[Experiment]:
    """Return the experiments by key, each annotated with its `exposure_count`.

    Summed from the per-day aggregates (one subquery), not counted from exposures.
    """
    total = (
        ExposureDay.objects.filter(experiment=OuterRef("pk"))
        .order_by()
        .values("experiment")
        .annotate(n=Sum("users"))
        .values("n")
    )
    return Experiment.objects.annotate(
        exposure_count=Coalesce(Subquery(total, output_field=IntegerField()), 0)
    ).order_by("key")


def exposure_totals(exp: Experiment) -> tuple[dict[str, int], int]:
    """Return exposed users per variant (every variant present) and those of the last
    ETA_WINDOW_DAYS UTC days, today included (one indexed read)."""
    rows = _exposure_sums(ExposureDay.objects.filter(experiment=exp))
    users = {r["variant"]: int(r["n"] or 0) for r in rows}
    recent = sum(int(r["recent"] or 0) for r in rows)
    return {v: users.get(v, 0) for v in exp.variants}, recent


def _exposure_sums(
    days: QuerySet[ExposureDay], *group: str
) -> QuerySet[ExposureDay, dict[str, Any]]:
    """Return exposed users per variant (and `group`): all, and `recent` in the ETA window."""
    since = timezone.now().date() - timedelta(days=ETA_WINDOW_DAYS - 1)
    rows: QuerySet[ExposureDay, dict[str, Any]] = (
        days.values(*group, "variant")
        .annotate(n=Sum("users"), recent=Sum("users", filter=Q(day__gte=since)))
        .order_by()
    )
    return rows


def exposures_per_variant(exp: Experiment) -> dict[str, int]:
    """Return exposed users per variant, every variant present (one indexed read)."""
    return exposure_totals(exp)[0]


def exposures_by_experiment(experiments: Sequence[Experiment]) -> dict[int, dict[str, int]]:
    """Return exposed users per variant of each experiment, by pk (one grouped read).

    For a page that lists several experiments (the admin's list): every declared
    variant first (0 when none was exposed), then any other variant with exposures,
    in the order of its first exposure day.
    """
    out = {exp.pk: dict.fromkeys(exp.variants, 0) for exp in experiments}
    if not out:
        return out
    days = ExposureDay.objects.filter(experiment__in=list(out))
    rows = _exposure_sums(days, "experiment").annotate(first=Min("day"))
    for row in sorted(rows, key=lambda r: (r["first"], r["variant"])):
        counts = out[row["experiment"]]
        counts[row["variant"]] = counts.get(row["variant"], 0) + int(row["n"] or 0)
    return out


def format_arms(exp: Experiment) -> str:
    """Return the variants with their weights: `A (1), B (1)` (admin list and command)."""
    return ", ".join(f"{v} ({w})" for v, w in zip(exp.variants, exp.weights, strict=True))


def variant_counts(exp: Experiment, event: str) -> list[VariantCounts]:
    """Return users, converters and value sums per variant, control first (2 queries)."""
    return counts_for_events(exp, [event])[event]


def counts_for_events(
    exp: Experiment, events: list[str], users: Mapping[str, int] | None = None
) -> dict[str, list[VariantCounts]]:
    """Return `variant_counts` for several events with two aggregate reads in all
    (one when `users` per variant is given)."""
    users = exposures_per_variant(exp) if users is None else users
    sums: dict[tuple[str, str], Any] = {
        (row["event"], row["variant"]): row
        for row in _event_sums(EventDay.objects.filter(experiment=exp, event__in=events))
    }
    return _counts(exp, events, users, sums)


def _event_sums(days: QuerySet[EventDay], *group: str) -> QuerySet[EventDay, dict[str, Any]]:
    """Return the per-day aggregates summed per event and variant (and `group`)."""
    rows: QuerySet[EventDay, dict[str, Any]] = (
        days.values(*group, "event", "variant")
        .annotate(c=Sum("converters"), n=Sum("events"), total=Sum("value_sum"), sq=Sum("value_sq"))
        .order_by()
    )
    return rows


def _counts(
    exp: Experiment,
    events: list[str],
    users: Mapping[str, int],
    sums: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, list[VariantCounts]]:
    """Return `variant_counts` per event from summed rows keyed by (event, variant)."""
    out: dict[str, list[VariantCounts]] = {}
    for event in events:
        rows: list[VariantCounts] = []
        for variant in exp.variants:
            c = sums.get((event, variant)) or {}
            rows.append(
                {
                    "variant": variant,
                    "users": users[variant],
                    "converters": int(c.get("c") or 0),
                    "value_sum": float(c.get("total") or 0.0),
                    "value_sq": float(c.get("sq") or 0.0),
                }
            )
        out[event] = rows
    return out


class Comparison(TypedDict):
    """How one variant's comparison with the control is set up."""

    n_star: float  # N*: planned users of the control and this variant
    alpha: float  # the sequential interval's error rate (Bonferroni past two variants)


def comparisons(exp: Experiment) -> list[Comparison]:
    weights = list(exp.weights)
    alpha = stats.sequential_alpha(len(weights))
    return [
        {
            "n_star": stats.planned_n(exp.planned_users, weights[0], w, sum(weights)),
            "alpha": alpha,
        }
        for w in weights
    ]


def _variant_result(
    row: VariantCounts, control: VariantCounts | None, how: Comparison
) -> VariantResult:
    """Return one variant's results; compared with `control` unless it is the control."""
    # Never more converters than users (events of users whose exposure is not
    # counted, e.g. bulk-loaded rows): a rate above 1 has no interval.
    n = row["users"]
    x = min(row["converters"], n)
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
        "significant": None,
        "uplift_abs_seq_ci": None,
        "significant_seq": None,
        "mean_value_ci": stats.mean_ci(row["value_sum"], row["value_sq"], n),
        "value_uplift": None,
        "value_uplift_ci": None,
    }
    if control is None or not n or not control["users"]:
        return result
    n0 = control["users"]
    x0 = min(control["converters"], n0)
    rate, rate0 = x / n, x0 / n0
    result["uplift_abs"] = rate - rate0
    result["uplift_abs_ci"] = stats.diff_ci(x, n, x0, n0)
    result["uplift_rel"] = (rate - rate0) / rate0 if x0 else None
    result["uplift_rel_ci"] = stats.relative_ci(x, n, x0, n0)
    result["p_value"] = p = stats.ztest_pooled(x, n, x0, n0)
    result["significant"] = p is not None and p < stats.ALPHA
    result["prob_beat_control"] = stats.prob_beat_control(x, n, x0, n0)
    seq = stats.sequential_diff_ci(x, n, x0, n0, how["n_star"], how["alpha"])
    result["uplift_abs_seq_ci"], result["significant_seq"] = seq, stats.excludes_zero(seq)
    result["value_uplift"] = row["value_sum"] / n - control["value_sum"] / n0
    result["value_uplift_ci"] = stats.welch_ci(
        (row["value_sum"], row["value_sq"], n), (control["value_sum"], control["value_sq"], n0)
    )
    return result


def _body(exp: Experiment, counts: list[VariantCounts]) -> dict[str, Any]:
    """Return one event's `variants` and `srm` (pure arithmetic)."""
    control, how = counts[0], comparisons(exp)
    return {
        "variants": [
            _variant_result(row, None if i == 0 else control, how[i])
            for i, row in enumerate(counts)
        ],
        "srm": stats.srm([r["users"] for r in counts], list(exp.weights)),
    }


class Progress(TypedDict):
    progress: float
    eta_days: float | None


def _progress(exp: Experiment, total: int, recent: int) -> Progress:
    """Return exposed users / planned users, and the days left at the last week's rate."""
    eta: float | None = None
    if exp.status == Status.RUNNING:
        left = exp.planned_users - total
        if left <= 0:
            eta = 0.0
        elif recent > 0:
            eta = left / (recent / ETA_WINDOW_DAYS)
    return {"progress": total / exp.planned_users, "eta_days": eta}


def compute(exp: Experiment, event: str, counts: list[VariantCounts], recent: int = 0) -> Results:
    """Turn per-variant counts into the results document (pure arithmetic).

    `recent`: users exposed in the last ETA_WINDOW_DAYS days (for `eta_days`).
    """
    body = _body(exp, counts)
    total = sum(r["users"] for r in counts)
    return {
        "experiment": exp.key,
        "event": event,
        "status": exp.status,
        "variants": body["variants"],
        "srm": body["srm"],
        "analysis": exp.analysis,
        "planned_users": exp.planned_users,
        **_progress(exp, total, recent),
    }


def results(*, experiment: str, event: str = "conversion") -> Results:
    """Return the results of `experiment` for `event` (three indexed reads, any data size)."""
    check_event_name(event)
    exp = get_experiment(experiment)
    users, recent = exposure_totals(exp)
    return compute(exp, event, counts_for_events(exp, [event], users)[event], recent)


def metric_events(exp: Experiment) -> list[str]:
    """Return the primary, secondary and guardrail events of `exp`, in that order, once each."""
    return metric_event_names(exp.metrics)


def guardrail_failures(exp: Experiment, bodies: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Return the guardrails whose always-valid interval moved in the harmful direction.

    `direction` is the good direction: "decrease" (refunds) fails when a
    variant's interval lies wholly above 0, "increase" when wholly below.
    """
    failed = []
    for guard in (exp.metrics or {}).get("guardrails", []):
        for v in bodies[guard["event"]]["variants"][1:]:
            ci = v["uplift_abs_seq_ci"]
            if ci and (ci[0] > 0 if guard["direction"] == "decrease" else ci[1] < 0):
                failed.append(guard["event"])
                break
    return failed


def results_all(*, experiment: str) -> dict[str, Any]:
    """Return every declared metric's `variants` and `srm`, and the failed guardrails."""
    exp = get_experiment(experiment)
    users, recent = exposure_totals(exp)
    return _all_metrics(exp, users, recent, counts_for_events(exp, metric_events(exp), users))


def results_with_all(*, experiment: str, event: str) -> tuple[Results, dict[str, Any]]:
    """Return `results(…, event=event)` and `results_all(…)` of `experiment`.

    When `event` is one of the declared metrics, its results are taken from
    `results_all` (the same document, without reading everything twice).
    """
    check_event_name(event)
    every = results_all(experiment=experiment)
    body = every["metrics"].get(event)
    if body is None:
        return results(experiment=experiment, event=event), every
    data: Results = {
        "experiment": every["experiment"],
        "event": event,
        "status": every["status"],
        "variants": body["variants"],
        "srm": body["srm"],
        "analysis": every["analysis"],
        "planned_users": every["planned_users"],
        "progress": every["progress"],
        "eta_days": every["eta_days"],
    }
    return data, every


def results_all_many(experiments: Sequence[Experiment]) -> dict[str, dict[str, Any]]:
    """Return `results_all` of each experiment, by key, with two aggregate reads in all.

    For a page that shows several experiments (the overview): the same
    document as `results_all`, whatever the number of experiments or events.
    """
    if not experiments:
        return {}
    pks = [exp.pk for exp in experiments]
    exposed: dict[int, dict[str, int]] = {pk: {} for pk in pks}
    recent = dict.fromkeys(pks, 0)
    for row in _exposure_sums(ExposureDay.objects.filter(experiment__in=pks), "experiment"):
        exposed[row["experiment"]][row["variant"]] = int(row["n"] or 0)
        recent[row["experiment"]] += int(row["recent"] or 0)
    names = {exp.pk: metric_events(exp) for exp in experiments}
    wanted = {name for events in names.values() for name in events}
    sums: dict[int, dict[tuple[str, str], Any]] = {pk: {} for pk in pks}
    days = EventDay.objects.filter(experiment__in=pks, event__in=wanted)
    for row in _event_sums(days, "experiment"):
        sums[row["experiment"]][(row["event"], row["variant"])] = row
    out = {}
    for exp in experiments:
        users = {v: exposed[exp.pk].get(v, 0) for v in exp.variants}
        counts = _counts(exp, names[exp.pk], users, sums[exp.pk])
        out[exp.key] = _all_metrics(exp, users, recent[exp.pk], counts)
    return out


def _all_metrics(
    exp: Experiment,
    users: Mapping[str, int],
    recent: int,
    counts: Mapping[str, list[VariantCounts]],
) -> dict[str, Any]:
    """Turn counts for every metric into the `results_all` document (pure arithmetic)."""
    names = metric_events(exp)
    bodies = {name: _body(exp, counts[name]) for name in names}
    total = sum(users.values())
    return {
        "experiment": exp.key,
        "status": exp.status,
        "analysis": exp.analysis,
        "planned_users": exp.planned_users,
        **_progress(exp, total, recent),
        "primary": names[0],
        "metrics": bodies,
        "guardrail_failed": guardrail_failures(exp, bodies),
    }


def event_names(exp: Experiment) -> list[str]:
    """Return the event names logged for `exp` (from the per-day aggregates)."""
    return list(
        EventDay.objects.filter(experiment=exp)
        .order_by("event")
        .values_list("event", flat=True)
        .distinct()
    )
