"""Every statistic against scipy / statsmodels to 1e-6 (dev-only references)."""

import math
from statistics import NormalDist

import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from experiments import stats as ours
from tests.experiments import references as ref
from tests.experiments.references import Z, close

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


def test_the_references_are_the_specified_methods():
    """statsmodels' wald/diff is the unpooled interval with z = NormalDist().inv_cdf(0.975)."""
    x1, n1, x0, n0 = 48, 500, 61, 520
    p1, p0 = x1 / n1, x0 / n0
    z = NormalDist().inv_cdf(0.975)
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    lo, hi = ref.diff_ci(x1, n1, x0, n0)
    assert abs(lo - (p1 - p0 - half)) < 1e-12 and abs(hi - (p1 - p0 + half)) < 1e-12
    pooled = (x1 + x0) / (n1 + n0)
    pooled_half = z * math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    assert abs((hi - lo) / 2 - pooled_half) > 1e-5  # not the pooled one
    # The delta-method interval is centred on the relative uplift, symmetric, normal.
    lo, hi = ref.rel_ci(x1, n1, x0, n0)
    assert abs((lo + hi) / 2 - (p1 / p0 - 1)) < 1e-12
    assert abs(ref.Z - z) < 1e-12


@pytest.mark.parametrize("case", CASES)
def test_unpooled_wald_difference(case):
    lo, hi = ref.diff_ci(*case)
    got = ours.diff_ci(*case)
    close(got[0], lo)
    close(got[1], hi)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] > 0])
def test_relative_delta_method(case):
    lo, hi = ref.rel_ci(*case)
    got = ours.relative_ci(*case)
    close(got[0], lo)
    close(got[1], hi)


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
    close(ours.prob_beat_control(*case), ref.prob_beat(*case))


def test_prob_beat_control_symmetry_and_large_counts():
    # 100,000 users a side: exact and still symmetric.
    p = ours.prob_beat_control(10_300, 100_000, 10_000, 100_000)
    q = ours.prob_beat_control(10_000, 100_000, 10_300, 100_000)
    close(p + q, 1.0)
    close(p, ref.prob_beat(10_300, 100_000, 10_000, 100_000))
    close(ours.prob_beat_control(0, 10, 0, 10), 0.5)
    # Millions of users: the sum starts at its peak, so this stays exact and fast.
    for case in [(1000, 10_000_000, 990, 10_000_000), (5_004_000, 10**7, 5_000_000, 10**7)]:
        close(ours.prob_beat_control(*case), ref.prob_beat(*case))


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
    exp = SimpleNamespace(
        key="e",
        status="running",
        weights=[1] * len(counts),
        variants=names,
        analysis="sequential",
        planned_users=5000,
    )
    rows = [
        {"variant": n, "users": u, "converters": x, "value_sum": 2.0 * x, "value_sq": 4.0 * x}
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
            assert v["uplift_rel"] is None and v["uplift_rel_ci"] is None
            continue
        ref.assert_comparison(v, x, n, x0, n0)
        if x + x0 == 0:
            assert v["p_value"] is None
        else:
            close(v["p_value"], proportions_ztest([x, x0], [n, n0])[1])
    users = [n for _, n in counts]
    if sum(users):
        chi = stats.chisquare(users)
        close(doc["srm"]["chi2"], chi.statistic)
        close(doc["srm"]["p_value"], chi.pvalue)
    else:
        assert doc["srm"] == {"chi2": None, "p_value": None, "srm": False}
