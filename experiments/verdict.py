"""The verdict: one line that says what a results document means, and how loudly.

Pure text over `experiments.selectors.results()` or `results_all()` (no
reads), shared by the admin, the overview card and the command;
`experiments.selectors.verdict` re-exports it.
"""

from collections.abc import Mapping
from typing import Any, TypedDict


class Verdict(TypedDict):
    """One line that says what the results mean, and how loudly to show it."""

    text: str
    level: str  # success | info | warning | error
    variant: str | None  # the variant the line is about
    sequential: bool


def _p_text(p: float | None) -> str:
    return "p < 0.001" if p is not None and p < 0.001 else f"p = {p:.2g}" if p is not None else ""


def chance(p: float) -> str:
    """Return a probability as a percentage that never rounds to a certainty."""
    if p > 0.999:
        return "> 99.9%"
    return "< 0.1%" if p < 0.001 else f"{p * 100:.1f}%"


def _pp(x: float) -> str:
    return f"{x * 100:+.1f}"


def verdict(results: Mapping[str, Any]) -> Verdict:
    """Return the verdict of a results document (`results()` or `results_all()`).

    Sample ratio mismatch overrides everything; otherwise the leading
    significant variant (the interval of `analysis`: always-valid for
    "sequential", fixed-horizon otherwise), or "No significant difference
    yet"; a failed guardrail is appended and makes the line an error.
    """
    body = results["metrics"][results["primary"]] if "metrics" in results else results
    sequential = results.get("analysis", "sequential") == "sequential"
    failed = list(results.get("guardrail_failed") or [])
    line = _verdict_line(body, sequential)
    if failed and line["level"] != "error":
        line["text"] += f". Guardrail failed: {', '.join(failed)} moved the wrong way"
        line["level"] = "error"
    return line


def _verdict_line(body: Mapping[str, Any], sequential: bool) -> Verdict:
    srm, variants = body["srm"], body["variants"]
    if srm["srm"]:
        text = f"Sample ratio mismatch ({_p_text(srm['p_value'])}): do not trust these results"
        return {"text": text, "level": "error", "variant": None, "sequential": sequential}
    compared = [v for v in variants[1:] if v["uplift_abs"] is not None]
    if not compared:
        text = "No data yet: the control and a variant need exposed users"
        return {"text": text, "level": "info", "variant": None, "sequential": sequential}
    sig_key, ci_key = (
        ("significant_seq", "uplift_abs_seq_ci")
        if sequential
        else (
            "significant",
            "uplift_abs_ci",
        )
    )
    winners = [v for v in compared if v[sig_key]]
    if not winners:
        ps = [v["p_value"] for v in compared if v["p_value"] is not None]
        text = "No significant difference yet" + (f" ({_p_text(min(ps))})" if ps else "")
        return {"text": text, "level": "info", "variant": None, "sequential": sequential}
    ahead = [v for v in winners if v["uplift_abs"] > 0]
    best = (
        max(ahead, key=lambda v: v["uplift_abs"])
        if ahead
        else min(winners, key=lambda v: v["uplift_abs"])
    )
    lo, hi = best[ci_key]
    label = "always-valid 95% CI" if sequential else "95% CI"
    parts = [
        f"{best['variant']} is {'ahead of' if ahead else 'behind'} {variants[0]['variant']} "
        f"by {_pp(best['uplift_abs'])} pp ({label} {_pp(lo)} to {_pp(hi)} pp)",
        _p_text(best["p_value"]),
        f"{chance(best['prob_beat_control'])} chance to beat control",
    ]
    return {
        "text": ", ".join(p for p in parts if p),
        "level": "success" if ahead else "warning",
        "variant": best["variant"],
        "sequential": sequential,
    }
