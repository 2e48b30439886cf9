"""The admin's reads: the list's exposures per variant in one grouped read, and the
change page's single-event results taken from `results_all` (the same document)."""

import datetime as dt
import json
import random

import pytest
from django.contrib.auth import get_user_model

from experiments import selectors, services
from experiments.admin import results_context
from experiments.assignment import assign_variant
from experiments.models import Experiment, ExposureDay

METRICS = {
    "primary": "conversion",
    "secondary": ["purchase"],
    "guardrails": [{"event": "refund", "direction": "decrease"}],
}


@pytest.fixture
def staff(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return client


@pytest.fixture
def shop(db):
    exp = services.experiment_create(
        key="shop", variants=["A", "B"], salt="SHOP", metrics=METRICS, planned_users=800, actor="t"
    )
    rng = random.Random(3)
    events = []
    for i in range(300):
        user = f"u{i}"
        services.assign(experiment="shop", user=user, actor="t")
        variant = assign_variant(user, "SHOP", ["A", "B"])
        if rng.random() < (0.2 if variant == "A" else 0.3):
            events.append({"event": "conversion", "user": user, "exp": "shop"})
        if rng.random() < 0.3:
            events.append({"event": "purchase", "user": user, "exp": "shop", "value": 12.5})
        if rng.random() < 0.1:
            events.append({"event": "refund", "user": user, "exp": "shop"})
        if rng.random() < 0.1:
            events.append({"event": "other", "user": user, "exp": "shop"})
    services.log_events(events=events, actor="t")
    return exp


def _per_variant_prefetched(exp):
    """The list column as it was computed before: every ExposureDay row, summed."""
    counts = dict.fromkeys(exp.variants, 0)
    for row in ExposureDay.objects.filter(experiment=exp):  # ordered by day, variant
        counts[row.variant] = counts.get(row.variant, 0) + row.users
    return counts


def test_exposures_by_experiment_matches_the_rows_summed_in_order(seeded, make_exp):
    for user in ("u1", "u2", "u3"):
        services.assign(experiment="pricing_v2", user=user, actor="t")
    odd = Experiment.objects.get(key="onboarding_flow")
    today = dt.date.today()
    # Variants no longer declared (rows written behind the services' back), in day order.
    ExposureDay.objects.bulk_create(
        [
            ExposureDay(experiment=odd, variant="zeta", day=today - dt.timedelta(days=3), users=2),
            ExposureDay(experiment=odd, variant="alpha", day=today - dt.timedelta(days=1), users=5),
            ExposureDay(experiment=odd, variant="zeta", day=today, users=1),
            ExposureDay(experiment=odd, variant="guided", day=today, users=4),
        ]
    )
    empty = make_exp(key="empty")
    exps = list(selectors.list_experiments())
    got = selectors.exposures_by_experiment(exps)
    for exp in exps:
        assert list(got[exp.pk].items()) == list(_per_variant_prefetched(exp).items())
    assert list(got[odd.pk]) == ["standard", "guided", "quick", "zeta", "alpha"]
    assert got[empty.pk] == {"A": 0, "B": 0}
    assert selectors.exposures_by_experiment([]) == {}


def test_changelist_reads_exposures_once_per_page(
    staff, seeded, make_exp, django_assert_max_num_queries
):
    services.assign(experiment="pricing_v2", user="u1", actor="t")
    staff.get("/admin/experiments/experiment/")  # warm up (sessions, content types)
    with django_assert_max_num_queries(20) as few:
        html = staff.get("/admin/experiments/experiment/").content.decode()
    for i in range(5):
        make_exp(key=f"more_{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        more = staff.get("/admin/experiments/experiment/").content.decode()
    a, b = (1, 0) if assign_variant("u1", "ECHO2025", ["A", "B"]) == "A" else (0, 1)
    assert f'<td class="field-per_variant">A: {a} · B: {b}</td>' in html
    assert '<td class="field-per_variant">standard: 0 · guided: 0 · quick: 0</td>' in html
    assert more.count('class="field-per_variant"') == 7


def test_change_page_results_for_a_metric_equal_results(shop):
    for event in ("conversion", "purchase", "refund", "other", "never_logged"):
        data, every = selectors.results_with_all(experiment="shop", event=event)
        expected = selectors.results(experiment="shop", event=event)
        assert json.dumps(data) == json.dumps(expected)  # same keys, order and values
        assert json.dumps(every) == json.dumps(selectors.results_all(experiment="shop"))


def test_change_page_context_is_unchanged(shop):
    exp = Experiment.objects.get(key="shop")
    ctx = results_context(exp, "purchase")
    assert ctx["results"] == selectors.results(experiment="shop", event="purchase")
    assert ctx["results_event"] == "purchase" and "results_error" not in ctx
    bad = results_context(exp, "bad name")
    assert bad["results_error"].startswith("'event' must match")
