"""Independent references for the results statistics (scipy / statsmodels, dev only).

None of these reuses `experiments.stats` or restates its formulas: the
difference interval is statsmodels' own, the relative interval comes from
statsmodels' generic delta method (numerical derivatives of p1/p0 - 1), and
P(variant beats control) is a numerical integral.
"""

import math

import numpy as np
from scipy import integrate, stats
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.proportion import confint_proportions_2indep

TOL = 1e-6
Z = stats.norm.ppf(0.975)


def diff_ci(x1, n1, x0, n0):
    """Return statsmodels' unpooled Wald interval of p1 - p0 (no continuity or +1 terms)."""
    lo, hi = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    return [float(lo), float(hi)]


def rel_ci(x1, n1, x0, n0):
    """Return the normal interval of p1/p0 - 1 from statsmodels' delta method."""
    p = np.array([x1 / n1, x0 / n0])
    cov = np.diag([p[0] * (1 - p[0]) / n1, p[1] * (1 - p[1]) / n0])  # independent arms
    delta = NonlinearDeltaCov(lambda q: np.atleast_1d(q[0] / q[1] - 1), p, cov)
    estimate = delta.predicted().item()
    se = delta.se_vectorized().item()
    return [estimate - Z * se, estimate + Z * se]


def prob_beat(x1, n1, x0, n0):
    """Return P(p1 > p0) under Beta(1 + x, 1 + n - x) posteriors by numerical integration."""
    a1, b1, a0, b0 = 1 + x1, 1 + n1 - x1, 1 + x0, 1 + n0 - x0
    mean = a1 / (a1 + b1)
    sd = math.sqrt(a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)))
    # Outside 15 sd of the variant's posterior the integrand is below 1e-40.
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


def close(got, want, tol=TOL):
    assert got is not None
    assert abs(got - want) < tol, (got, want)


def assert_comparison(v, x1, n1, x0, n0):
    """Assert a results row's comparison fields against the references."""
    close(v["uplift_abs"], x1 / n1 - x0 / n0)
    lo, hi = diff_ci(x1, n1, x0, n0)
    close(v["uplift_abs_ci"][0], lo)
    close(v["uplift_abs_ci"][1], hi)
    if x0 == 0:  # control rate 0: relative uplift undefined
        assert v["uplift_rel"] is None and v["uplift_rel_ci"] is None
    else:
        close(v["uplift_rel"], (x1 / n1) / (x0 / n0) - 1)
        lo, hi = rel_ci(x1, n1, x0, n0)
        close(v["uplift_rel_ci"][0], lo)
        close(v["uplift_rel_ci"][1], hi)
    close(v["prob_beat_control"], prob_beat(x1, n1, x0, n0))
