"""The overview's Experiments card: each running experiment's exposures and leader.

Results are read through `experiments.selectors.results` (the API's own) and
cached for RESULTS_TTL seconds per experiment, so the overview's cost does not
grow with the number of events between two refreshes; at most SHOWN
experiments are read.
"""

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from echopilot.exceptions import ServiceError
from experiments import selectors
from experiments.models import Experiment, Status

SHOWN = 8
RESULTS_TTL = 60
EVENT = "conversion"


def _cache_key(key: str) -> str:
    return f"overview:experiment:{key}:{EVENT}"


def _results(keys: list[str]) -> dict[str, Any]:
    """Return each experiment's results, from the cache or computed (and cached)."""
    cached = cache.get_many([_cache_key(k) for k in keys])
    found: dict[str, Any] = {}
    for key in keys:
        data = cached.get(_cache_key(key))
        if data is None:
            try:
                data = selectors.results(experiment=key, event=EVENT)
            except ServiceError as exc:
                data = {"error": exc.detail}
            cache.set(_cache_key(key), data, RESULTS_TTL)
        found[key] = data
    return found


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Return exposures per variant, the leading variant and its chance to beat control."""
    variants = results["variants"]
    rated = [v for v in variants if v["rate"] is not None]
    leader = max(rated, key=lambda v: v["rate"]) if rated else None
    challengers = [v for v in variants[1:] if v["prob_beat_control"] is not None]
    best = max(challengers, key=lambda v: v["prob_beat_control"]) if challengers else None
    return {
        "variants": [
            {"name": v["variant"], "users": v["users"], "rate": v["rate"]} for v in variants
        ],
        "control": variants[0]["variant"] if variants else "",
        "leader": leader["variant"] if leader else None,
        "leader_is_control": bool(leader and variants and leader is variants[0]),
        "best": best["variant"] if best else None,
        "chance": f"{best['prob_beat_control']:.1%}" if best else None,
        "srm": bool(results["srm"]["srm"]),
        "srm_p": _p_text(results["srm"]["p_value"]),
    }


def _p_text(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Experiments card (2 queries with warm caches, 3 more per cold experiment)."""
    running = Experiment.objects.filter(status=Status.RUNNING).order_by("key")
    rows = list(running.values_list("id", "key")[: SHOWN + 1])
    shown = rows[:SHOWN]
    results = _results([key for _, key in shown])
    experiments = []
    for pk, key in shown:
        data = results[key]
        entry = {"key": key, "url": reverse("admin:experiments_experiment_change", args=[pk])}
        entry.update({"error": data["error"]} if "error" in data else summary(data))
        experiments.append(entry)
    return {
        "experiments": experiments,
        "running": running.count() if len(rows) > SHOWN else len(rows),
        "event": EVENT,
        "ttl": RESULTS_TTL,
        "changelist": reverse("admin:experiments_experiment_changelist"),
    }
