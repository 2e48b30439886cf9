"""Every statistic against scipy / statsmodels to 1e-6 (dev-only references)."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from experiments import stats as ours

TOL = 1e-6
Z = stats.norm.ppf(0.975)

# (converters, users) for (treatment, control): zero conversions, tiny samples, large.
CASES = [
    (0, 1, 0, 1),
    (0, 10, 0, 12),
    (1, 3, 0, 2),
    (3, 10, 1, 10),
    (5, 7, 2, 3),
    (10, 10, 9, 10),
    (120, 1000, 100, 1000),
    (48, 500, 61, 520),
    (5200, 50000, 5000, 50000),
    (24800, 50000, 25000, 50000),
]


def ref_prob_beat(x1, n1, x0, n0):
    a1, b1, a0, b0 = 1 + x1, 1 + n1 - x1, 1 + x0, 1 + n0 - x0
    mean = a1 / (a1 + b1)
    sd = math.sqrt(a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)))
    lo, hi = max(0.0, mean - 15 * sd), min(1.0, mean + 15 * sd)
    value, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a0, b0),
        lo,
        hi,
        points=[mean],
        epsabs=1e-12,
        limit=500,
    )
    return value


def close(a, b):
    assert a is not None
    assert abs(a - b) < TOL, (a, b)


def test_z_is_exact():
    close(ours.Z, Z)
    assert ours.Z != 1.96


@pytest.mark.parametrize("case", CASES)
def test_wilson(case):
    x, n = case[0], case[1]
    lo, hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    got = ours.wilson(x, n)
    close(got[0], lo)
    close(got[1], hi)


@pytest.mark.parametrize("case", CASES)
def test_unpooled_wald_difference(case):
    x1, n1, x0, n0 = case
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    got = ours.diff_ci(x1, n1, x0, n0)
    close(got[0], lo)
    close(got[1], hi)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] > 0])
def test_relative_delta_method(case):
    x1, n1, x0, n0 = case
    p1, p0 = x1 / n1, x0 / n0
    # Delta method from the gradient of g(p1, p0) = p1/p0 - 1 and the diagonal covariance.
    grad = np.array([1 / p0, -p1 / p0**2])
    cov = np.diag([p1 * (1 - p1) / n1, p0 * (1 - p0) / n0])
    se = float(np.sqrt(grad @ cov @ grad))
    got = ours.relative_ci(x1, n1, x0, n0)
    close(got[0], p1 / p0 - 1 - Z * se)
    close(got[1], p1 / p0 - 1 + Z * se)


@pytest.mark.parametrize("case", CASES)
def test_pooled_ztest(case):
    x1, n1, x0, n0 = case
    got = ours.ztest_pooled(x1, n1, x0, n0)
    if x1 + x0 in (0, n1 + n0):
        assert got is None  # 0/0: statsmodels gives NaN, we give null
        return
    _, p = proportions_ztest([x1, x0], [n1, n0])
    close(got, p)


@pytest.mark.parametrize("case", CASES)
def test_prob_beat_control_matches_integration(case):
    close(ours.prob_beat_control(*case), ref_prob_beat(*case))


def test_prob_beat_control_symmetry_and_large_counts():
    # 100,000 users a side: exact and still symmetric.
    p = ours.prob_beat_control(10_300, 100_000, 10_000, 100_000)
    q = ours.prob_beat_control(10_000, 100_000, 10_300, 100_000)
    close(p + q, 1.0)
    close(p, ref_prob_beat(10_300, 100_000, 10_000, 100_000))
    close(ours.prob_beat_control(0, 10, 0, 10), 0.5)
    # Millions of users: the sum starts at its peak, so this stays exact and fast.
    for case in [(1000, 10_000_000, 990, 10_000_000), (5_004_000, 10**7, 5_000_000, 10**7)]:
        close(ours.prob_beat_control(*case), ref_prob_beat(*case))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 19])
@pytest.mark.parametrize("x", [0.0, 0.01, 0.5, 3.84, 10.0, 25.0, 80.0])
def test_chi2_survival(x, df):
    close(ours.chi2_sf(x, df), stats.chi2.sf(x, df))


@pytest.mark.parametrize(
    ("users", "weights"),
    [
        ([500, 520], [1, 1]),
        ([5000, 5600], [1, 1]),
        ([900, 100], [90, 10]),
        ([10, 30, 20], [1, 1, 1]),
    ],
)
def test_srm_matches_scipy_chisquare(users, weights):
    total = sum(users)
    ref = stats.chisquare(users, [total * w / sum(weights) for w in weights])
    got = ours.srm(users, weights)
    close(got["chi2"], ref.statistic)
    close(got["p_value"], ref.pvalue)
    assert got["srm"] is bool(ref.pvalue < 0.001)


def test_undefined_is_none():
    assert ours.wilson(0, 0) is None
    assert ours.diff_ci(1, 2, 0, 0) is None
    assert ours.relative_ci(1, 2, 0, 5) is None  # control rate 0
    assert ours.ztest_pooled(0, 5, 0, 5) is None
    assert ours.prob_beat_control(1, 2, 0, 0) is None
    assert ours.srm([0, 0], [1, 1]) == {"chi2": None, "p_value": None, "srm": False}


@pytest.mark.parametrize(
    "counts",
    [
        [(0, 0), (0, 0)],
        [(0, 10), (0, 12), (3, 9)],
        [(1, 3), (0, 2)],
        [(120, 1000), (150, 1010), (90, 990)],
        [(0, 50), (4, 60)],
    ],
)
def test_results_document_matches_references(counts):
    """Every field of `selectors.compute` against statsmodels/scipy, control first."""
    from types import SimpleNamespace

    from experiments.selectors import compute

    names = [f"v{i}" for i in range(len(counts))]
    exp = SimpleNamespace(key="e", status="running", weights=[1] * len(counts), variants=names)
    rows = [
        {"variant": n, "users": u, "converters": x, "value_sum": 2.0 * x}
        for n, (x, u) in zip(names, counts, strict=True)
    ]
    doc = compute(exp, "conversion", rows)
    assert [v["variant"] for v in doc["variants"]] == names
    x0, n0 = counts[0]
    for i, (v, (x, n)) in enumerate(zip(doc["variants"], counts, strict=True)):
        if n == 0:
            assert v["rate"] is None and v["rate_ci"] is None and v["mean_value"] is None
        else:
            close(v["rate"], x / n)
            lo, hi = proportion_confint(x, n, method="wilson")
            close(v["rate_ci"][0], lo)
            close(v["rate_ci"][1], hi)
            close(v["mean_value"], 2.0 * x / n)
        comparable = i > 0 and n and n0
        if not comparable:
            assert v["uplift_abs"] is None and v["p_value"] is None
            assert v["prob_beat_control"] is None and v["uplift_abs_ci"] is None
            continue
        close(v["uplift_abs"], x / n - x0 / n0)
        lo, hi = confint_proportions_2indep(x, n, x0, n0, method="wald", compare="diff")
        close(v["uplift_abs_ci"][0], lo)
        close(v["uplift_abs_ci"][1], hi)
        if x0 == 0:
            assert v["uplift_rel"] is None and v["uplift_rel_ci"] is None
        else:
            close(v["uplift_rel"], (x / n) / (x0 / n0) - 1)
        if x + x0 == 0:
            assert v["p_value"] is None
        else:
            close(v["p_value"], proportions_ztest([x, x0], [n, n0])[1])
        close(v["prob_beat_control"], ref_prob_beat(x, n, x0, n0))
    users = [n for _, n in counts]
    if sum(users):
        ref = stats.chisquare(users)
        close(doc["srm"]["chi2"], ref.statistic)
        close(doc["srm"]["p_value"], ref.pvalue)
    else:
        assert doc["srm"] == {"chi2": None, "p_value": None, "srm": False}
