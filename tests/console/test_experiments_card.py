"""The overview's Experiments card: each experiment on its primary metric, the results'
own verdict, every running experiment listed (up to SHOWN, then "and N more")."""

import html
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from experiments import selectors, services
from experiments.models import Event, Experiment, Exposure, Status
from experiments.overview import SHOWN, card

pytestmark = pytest.mark.django_db


def experiment(key: str, users: int, events: dict[str, dict[str, int]], **definition) -> None:
    """Create a running A/B experiment with `users` per variant and, per event and
    variant, that many converting users; aggregate them as ingestion would."""
    exp = services.experiment_create(key=key, variants=["A", "B"], actor="test", **definition)
    now = timezone.now()
    Exposure.objects.bulk_create(
        Exposure(experiment=exp, user=f"{v}{i}", variant=v, created_at=now)
        for v in ("A", "B")
        for i in range(users)
    )
    Event.objects.bulk_create(
        Event(experiment=exp, user=f"{v}{i}", variant=v, event=name, created_at=now)
        for name, per_variant in events.items()
        for v, converters in per_variant.items()
        for i in range(converters)
    )
    services.recount(key=key)


def card_html(client) -> str:
    page = client.get("/admin/").content.decode()
    return page[page.index('id="card-experiments"') : page.index('id="card-support"')]


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


# On `conversion` the control leads and B is significantly behind; on `signup`,
# the primary metric, B is significantly ahead.
TRAFFIC = {"conversion": {"A": 120, "B": 60}, "signup": {"A": 40, "B": 120}}


def test_each_experiment_is_judged_on_its_primary_metric(viewer_client):
    experiment("onboarding", 400, TRAFFIC, metrics={"primary": "signup"})
    experiment("checkout", 400, TRAFFIC)  # no metrics: the primary is `conversion`
    body = text(card_html(viewer_client))
    onboarding = body[body.index("onboarding") :]
    checkout = body[body.index("checkout") : body.index("onboarding")]
    assert onboarding.startswith("onboarding signup A 400 · B 400 B B: > 99.9% ")
    assert "B is ahead of A by +20.0 pp" in onboarding and "behind" not in onboarding
    assert checkout.startswith("checkout conversion A 400 · B 400 A (control) B: < 0.1% ")
    assert "B is behind A by -15.0 pp" in checkout


def test_the_card_shows_the_verdict_of_the_results_and_the_admin(viewer_client):
    experiment("onboarding", 400, TRAFFIC, metrics={"primary": "signup"})
    exp = Experiment.objects.get(key="onboarding")
    line = selectors.verdict(selectors.results_all(experiment="onboarding"))
    assert line["variant"] == "B" and line["level"] == "success"
    admin_page = viewer_client.get(f"/admin/experiments/experiment/{exp.pk}/change/")
    assert html.escape(line["text"]) in admin_page.content.decode()
    assert html.escape(line["text"]) in card_html(viewer_client)


def test_a_failed_guardrail_makes_the_row_red(viewer_client):
    guard = {"guardrails": [{"event": "refund", "direction": "decrease"}]}
    traffic = {"conversion": {"A": 100, "B": 100}, "refund": {"A": 10, "B": 150}}
    experiment("refunds", 400, traffic, metrics=guard)
    fragment = card_html(viewer_client)
    assert "Guardrail failed: refund moved the wrong way" in text(fragment)
    assert 'class="ep-verdict ep-row-bad"' in fragment and '<span class="ep-bad">⚠ ' in fragment


def test_a_new_primary_metric_shows_on_the_next_render(viewer_client):
    experiment("onboarding", 400, TRAFFIC)
    assert "B is behind A" in text(card_html(viewer_client))  # now cached for RESULTS_TTL
    services.experiment_update(key="onboarding", metrics={"primary": "signup"}, actor="test")
    body = text(card_html(viewer_client))
    assert "onboarding signup" in body and "B is ahead of A" in body


def test_every_running_experiment_is_listed_up_to_shown_then_the_rest_are_linked(
    viewer_client,
):
    Experiment.objects.bulk_create(
        Experiment(key=f"exp_{i:03d}", variants=["A", "B"], weights=[1, 1], salt=f"s{i}")
        for i in range(SHOWN + 2)
    )
    Experiment.objects.create(
        key="exp_paused", variants=["A", "B"], weights=[1, 1], salt="p", status=Status.PAUSED
    )
    fragment = card_html(viewer_client)
    assert fragment.count('class="ep-verdict') == SHOWN
    assert f"exp_{SHOWN - 1:03d}" in fragment and f"exp_{SHOWN:03d}" not in fragment
    assert "exp_paused" not in fragment
    assert f">{SHOWN + 2} running</a>" in fragment
    assert re.search(r'href="[^"]*\?status__exact=running">and 2 more running</a>', fragment)
    assert "No data yet" in fragment


def test_all_running_experiments_below_shown_are_listed_without_a_link():
    for i in range(3):
        experiment(f"exp_{i}", 20, {"conversion": {"A": 5, "B": 6}})
    result = card(None)
    assert [e["key"] for e in result["experiments"]] == ["exp_0", "exp_1", "exp_2"]
    assert result["running"] == 3 and result["more"] == 0


def test_cold_results_cost_the_same_queries_for_two_experiments_or_many():
    def cold_queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            card(None)
        return len(queries)

    for i in range(2):
        experiment(f"exp_{i}", 20, {"conversion": {"A": 5, "B": 6}})
    two = cold_queries()
    for i in range(2, SHOWN):
        experiment(f"exp_{i}", 20, {"conversion": {"A": 5, "B": 6}}, metrics={"primary": "buy"})
    assert cold_queries() == two == 3  # the running experiments, exposures, events
    with CaptureQueriesContext(connection) as warm:
        card(None)
    assert len(warm) == 1


def test_the_cards_batched_read_equals_each_experiments_own_results():
    guard = {
        "secondary": ["conversion"],
        "guardrails": [{"event": "refund", "direction": "decrease"}],
    }
    experiment("onboarding", 400, TRAFFIC, metrics={"primary": "signup", **guard})
    experiment("checkout", 300, {"conversion": {"A": 30, "B": 45}, "refund": {"A": 3}})
    services.experiment_create(key="empty", variants=["A", "B", "C"], actor="test")
    exps = list(Experiment.objects.order_by("key"))
    assert selectors.results_all_many(exps) == {
        exp.key: selectors.results_all(experiment=exp.key) for exp in exps
    }
    assert selectors.results_all_many([]) == {}
