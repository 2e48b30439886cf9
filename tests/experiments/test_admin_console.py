"""The admin as a console: verdict, percentages, charts, protected deletion, edits of the
analysis settings, and a view-only staff user who can change nothing."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.utils.html import escape

from experiments import selectors, services
from experiments.assignment import assign_variant
from experiments.models import Experiment, Exposure
from tests.conftest import client_for
from tests.conftest import staff as shared_staff

URL = "/admin/experiments/experiment/"
GUARD = {"guardrails": [{"event": "refund", "direction": "decrease"}]}


@pytest.fixture
def staff(db):
    return client_for(shared_staff("root", is_superuser=True))  # acts as "admin:root"


@pytest.fixture
def viewer(db):
    return client_for(shared_staff("viewer", perms=["view_experiment"]))


def _traffic(key, salt, rates, users=400):
    """Expose `users` users and convert them at `rates` per variant (through the services)."""
    events = []
    for i in range(users):
        u = f"{key}-u{i}"
        variant = assign_variant(u, salt, list(rates))
        services.assign(experiment=key, user=u, actor="t")
        if (i * 7919) % 1000 < rates[variant] * 1000:
            events.append({"event": "conversion", "user": u, "exp": key})
    services.log_events(events=events, actor="t")


def test_verdict_lines():
    def doc(x1, n1, x0, n0, analysis="fixed", srm=False):
        from types import SimpleNamespace

        exp = SimpleNamespace(key="e", status="running", weights=[1, 1], variants=["A", "B"],
                              analysis=analysis, planned_users=n1 + n0)  # fmt: skip
        rows = [
            {"variant": "A", "users": n0, "converters": x0, "value_sum": 0.0, "value_sq": 0.0},
            {"variant": "B", "users": n1, "converters": x1, "value_sum": 0.0, "value_sq": 0.0},
        ]
        data = selectors.compute(exp, "conversion", rows)
        if srm:
            data["srm"] = {"chi2": 30.0, "p_value": 1e-6, "srm": True}
        return data

    data = doc(60, 120, 40, 135)
    b = data["variants"][1]
    lo, hi = b["uplift_abs_ci"]
    text = selectors.verdict(data)["text"]
    assert text == (
        f"B is ahead of A by {b['uplift_abs'] * 100:+.1f} pp (95% CI {lo * 100:+.1f} to "
        f"{hi * 100:+.1f} pp), p < 0.001, > 99.9% chance to beat control"
    )
    assert b["p_value"] < 0.001 and b["prob_beat_control"] > 0.999
    assert text.startswith("B is ahead of A by +20.4 pp (95% CI +8.6 to +32.2 pp), p < 0.001")
    # A closer result: p and the chance printed as they are.
    close = doc(50, 200, 33, 200)
    b = close["variants"][1]
    assert 0.001 < b["p_value"] < 0.05 and b["prob_beat_control"] < 0.999
    assert selectors.verdict(close)["text"] == (
        f"B is ahead of A by +8.5 pp (95% CI +{b['uplift_abs_ci'][0] * 100:.1f} to "
        f"+{b['uplift_abs_ci'][1] * 100:.1f} pp), p = {b['p_value']:.2g}, "
        f"{b['prob_beat_control'] * 100:.1f}% chance to beat control"
    )
    seq = doc(60, 120, 40, 135, analysis="sequential")
    line = selectors.verdict(seq)
    slo, shi = seq["variants"][1]["uplift_abs_seq_ci"]
    assert f"(always-valid 95% CI {slo * 100:+.1f} to {shi * 100:+.1f} pp)" in line["text"]
    assert line["level"] == "success" and line["variant"] == "B"
    flat = doc(41, 100, 44, 100)
    assert selectors.verdict(flat)["text"] == (
        f"No significant difference yet (p = {flat['variants'][1]['p_value']:.2g})"
    )
    assert selectors.verdict(doc(60, 120, 40, 135, srm=True))["text"] == (
        "Sample ratio mismatch (p < 0.001): do not trust these results"
    )
    assert selectors.verdict(doc(10, 100, 40, 100))["text"].startswith("B is behind A by -30.0 pp")


def test_change_page_shows_verdict_percentages_and_time_series(staff, seeded):
    services.experiment_update(key="pricing_v2", metrics=GUARD, actor="t")
    _traffic("pricing_v2", "ECHO2025", {"A": 0.10, "B": 0.40})
    exp = Experiment.objects.get(key="pricing_v2")
    html = staff.get(f"{URL}{exp.pk}/change/").content.decode()
    verdict = selectors.verdict(selectors.results_all(experiment="pricing_v2"))
    assert "always-valid 95% CI" in verdict["text"] and escape(verdict["text"]) in html
    assert "> 99.9% chance to beat control" in verdict["text"]
    assert 'id="verdict"' in html and 'id="rate-chart"' in html and 'id="uplift-chart"' in html
    assert re.search(r"\d+\.\d\d%", html) and " pp" in html  # percentages and points
    assert "<polygon" in html  # the sequential band
    section = html.split('id="experiment-results"')[1].split("</fieldset>")[0]
    assert "<script" not in section and not re.search(r"\son[a-z]+=", section)
    assert 'id="guardrail-failed"' not in html
    # The list shows exposures per variant.
    listing = staff.get(URL).content.decode()
    counts = selectors.exposures_per_variant(exp)
    assert f"A: {counts['A']:,} · B: {counts['B']:,}" in listing


def test_guardrail_failure_is_red_in_the_admin(staff, seeded):
    services.experiment_update(key="pricing_v2", metrics=GUARD, actor="t")
    _traffic("pricing_v2", "ECHO2025", {"A": 0.1, "B": 0.1})
    refunds = [
        {"event": "refund", "user": x.user, "exp": "pricing_v2"}
        for x in Exposure.objects.filter(variant="B")
    ]
    services.log_events(events=refunds, actor="t")
    exp = Experiment.objects.get(key="pricing_v2")
    html = staff.get(f"{URL}{exp.pk}/change/").content.decode()
    assert 'id="guardrail-failed"' in html and "verdict-error" in html
    assert "Guardrail failed: refund" in html


def test_an_experiment_with_exposures_cannot_be_deleted(staff, seeded):
    services.assign(experiment="pricing_v2", user="u1", actor="t")
    exp = Experiment.objects.get(key="pricing_v2")
    other = Experiment.objects.get(key="onboarding_flow")
    html = staff.get(f"{URL}{exp.pk}/change/").content.decode()
    assert "deletelink" not in html
    assert staff.get(f"{URL}{exp.pk}/delete/").status_code == 403
    assert staff.post(f"{URL}{exp.pk}/delete/", {"post": "yes"}).status_code == 403
    r = staff.post(
        URL, {"action": "delete_selected", "_selected_action": [exp.pk, other.pk], "post": "yes"},
        follow=True,
    )  # fmt: skip
    assert "Not deleted: pricing_v2 has exposures" in r.content.decode()
    assert Experiment.objects.count() == 2
    # Without exposures it can go.
    staff.post(URL, {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"})
    assert not Experiment.objects.filter(key="onboarding_flow").exists()


def test_analysis_settings_are_edited_with_validation(staff, seeded):
    exp = Experiment.objects.get(key="pricing_v2")
    services.assign(experiment="pricing_v2", user="u1", actor="t")  # locked: still editable
    url = f"{URL}{exp.pk}/change/"
    base = {"description": "d", "analysis": "fixed", "planned_users": "20000"}
    r = staff.post(
        url, {**base, "metrics": '{"guardrails": [{"event": "refund", "direction": "up"}]}'}
    )
    assert r.status_code == 200 and "direction" in r.content.decode()
    r = staff.post(url, {**base, "planned_users": "0", "metrics": "{}"})
    assert r.status_code == 200
    exp.refresh_from_db()
    assert (exp.analysis, exp.planned_users) == ("sequential", 5000)
    metrics = (
        '{"primary": "conversion", "guardrails": [{"event": "refund", "direction": "decrease"}]}'
    )
    r = staff.post(url, {**base, "metrics": metrics})
    assert r.status_code == 302
    exp.refresh_from_db()
    assert (exp.analysis, exp.planned_users, exp.updated_by) == ("fixed", 20000, "admin:root")
    assert exp.metrics["guardrails"] == [{"event": "refund", "direction": "decrease"}]


def test_view_only_staff_changes_nothing(viewer, seeded):
    services.assign(experiment="pricing_v2", user="u1", actor="t")
    before = list(Experiment.objects.order_by("pk").values())
    exp = Experiment.objects.get(key="pricing_v2")
    other = Experiment.objects.get(key="onboarding_flow")
    listing = viewer.get(URL).content.decode()
    assert 'name="action"' not in listing  # no action is offered
    page = viewer.get(f"{URL}{exp.pk}/change/").content.decode()
    assert 'id="verdict"' in page and 'name="_save"' not in page and "deletelink" not in page
    selected = [exp.pk, other.pk]
    for action in ("pause", "resume", "stop", "delete_selected"):
        r = viewer.post(URL, {"action": action, "_selected_action": selected, "confirm": "yes",
                              "post": "yes", f"winner_{exp.pk}": "B"})  # fmt: skip
        # Refused: the action is not offered (the list again) or forbidden.
        assert r.status_code in (200, 403) and "Stop experiments" not in r.content.decode()
    for url, data in [
        (
            f"{URL}{exp.pk}/change/",
            {"description": "hacked", "analysis": "fixed", "planned_users": "7"},
        ),
        (f"{URL}{other.pk}/change/", {"description": "hacked", "variants": '["x", "y"]'}),
        (f"{URL}add/", {"key": "new", "variants": '["x", "y"]'}),
        (f"{URL}{other.pk}/delete/", {"post": "yes"}),
        (f"{URL}{exp.pk}/delete/", {"post": "yes"}),
    ]:
        assert viewer.post(url, data).status_code == 403, url
    assert list(Experiment.objects.order_by("pk").values()) == before
    assert not LogEntry.objects.exists()
