"""The overview's Experiments card: every running experiment, judged on its primary metric.

Each experiment is read as the results API and the admin read it: the
`results_all` document (`selectors.results_all_many`) on its own primary
metric (`metrics.primary`, `conversion` when none is declared), and the same
`verdict` line, so the card never disagrees with them. The card's rows are
cached for RESULTS_TTL seconds per experiment and definition, and the
uncached ones are read together (two aggregate reads in all), so the card's
cost grows with neither the events nor the experiments. Every running
experiment is listed up to SHOWN (a bound on the page's weight, not on its
queries); past that the card names how many more run and links to them.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from experiments import selectors
from experiments.models import Experiment, Status
from experiments.verdict import chance

SHOWN = 25
RESULTS_TTL = 60

# The verdict's level as the console's colours (echopilot/static/echopilot/console.css).
LEVEL_CLASSES = {
    "error": "ep-bad",
    "warning": "ep-level ep-level-warn",
    "success": "ep-level ep-level-ok",
    "info": "ep-quiet",
}


def _cache_key(exp: Experiment) -> str:
    # The definition's last change is in the key: a new primary metric, analysis
    # or guardrail shows on the next render, not RESULTS_TTL later.
    return f"overview:experiment:{exp.pk}:{exp.updated_at.timestamp()}"


def _rows(experiments: Sequence[Experiment]) -> dict[int, dict[str, Any]]:
    """Return each experiment's row by id, from the cache or read together (and cached)."""
    keys = {exp.pk: _cache_key(exp) for exp in experiments}
    found = cache.get_many(list(keys.values()))
    missing = [exp for exp in experiments if keys[exp.pk] not in found]
    if missing:
        every = selectors.results_all_many(missing)
        fresh = {keys[exp.pk]: summary(every[exp.key]) for exp in missing}
        cache.set_many(fresh, RESULTS_TTL)
        found.update(fresh)
    return {pk: found[key] for pk, key in keys.items()}


def summary(results: Mapping[str, Any]) -> dict[str, Any]:
    """Return a `results_all` document's row: the primary metric's exposures per
    variant, leading variant and best chance to beat control, and the verdict."""
    metric = results["primary"]
    variants = results["metrics"][metric]["variants"]
    rated = [v for v in variants if v["rate"]]  # no rate, or nobody converted: no leader
    leader = max(rated, key=lambda v: v["rate"]) if rated else None
    challengers = [v for v in variants[1:] if v["prob_beat_control"] is not None]
    best = max(challengers, key=lambda v: v["prob_beat_control"]) if challengers else None
    line = selectors.verdict(results)
    return {
        "metric": metric,
        "variants": [{"name": v["variant"], "users": v["users"]} for v in variants],
        "leader": leader["variant"] if leader else None,
        "leader_is_control": bool(leader and leader is variants[0]),
        "best": best["variant"] if best else None,
        "chance": chance(best["prob_beat_control"]) if best else None,
        "verdict": line["text"],
        "level": line["level"],
        "level_class": LEVEL_CLASSES[line["level"]],
    }


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Experiments card (1 query with warm caches, 2 more when any is cold,
    and a count past SHOWN running experiments)."""
    running = Experiment.objects.filter(status=Status.RUNNING).order_by("key")
    found = list(running[: SHOWN + 1])
    shown = found[:SHOWN]
    count = running.count() if len(found) > SHOWN else len(found)
    rows = _rows(shown)
    experiments = [
        {
            "key": exp.key,
            "url": reverse("admin:experiments_experiment_change", args=[exp.pk]),
            **rows[exp.pk],
        }
        for exp in shown
    ]
    return {
        "experiments": experiments,
        "running": count,
        "more": count - len(shown),
        "ttl": RESULTS_TTL,
        "changelist": reverse("admin:experiments_experiment_changelist"),
    }
