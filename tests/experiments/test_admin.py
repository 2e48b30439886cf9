"""Admin: list with exposure counts, results page (SRM warning, SVG chart), actions."""

import pytest
from django.contrib.auth import get_user_model

from experiments import services
from experiments.models import Experiment, Exposure


@pytest.fixture
def staff(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(user)
    return client


def test_changelist_shows_status_weights_and_exposures(staff, seeded):
    services.assign(experiment="pricing_v2", user="u1", actor="t")
    services.assign(experiment="pricing_v2", user="u2", actor="t")
    r = staff.get("/admin/experiments/experiment/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "A (1), B (1)" in html and "standard (1), guided (1), quick (1)" in html
    assert '<td class="field-exposures">2</td>' in html


def test_change_page_has_results_chart_and_srm_warning(staff, make_exp):
    exp = make_exp(key="skewed", variants=["A", "B"])
    Exposure.objects.bulk_create(
        Exposure(
            experiment=exp, user=f"u{i}", variant="A" if i < 80 else "B", created_at=exp.created_at
        )
        for i in range(100)
    )
    services.recount(key="skewed")  # raw rows written behind the services' back
    services.log_events(
        events=[{"event": "signup", "user": f"u{i}", "exp": "skewed"} for i in (1, 2, 90)],
        actor="t",
    )
    r = staff.get(f"/admin/experiments/experiment/{exp.pk}/change/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'id="results-table"' in html and 'id="srm-warning"' in html
    assert "<svg" in html and 'id="results-chart"' in html and "<rect" in html
    assert "http://" not in html.split('id="results-chart"')[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )  # no external resources in the chart
    assert "<strong>signup</strong>" in html  # the only event name is selected
    # Locked after exposures: the variants are shown read-only, not as inputs.
    assert 'name="variants"' not in html


def test_balanced_experiment_has_no_srm_warning(staff, seeded):
    for u in ("user123", "bob"):
        services.assign(experiment="pricing_v2", user=u, actor="t")
    exp = Experiment.objects.get(key="pricing_v2")
    html = staff.get(f"/admin/experiments/experiment/{exp.pk}/change/").content.decode()
    assert 'id="results-table"' in html and 'id="srm-warning"' not in html


def test_actions_pause_resume_stop_with_winner(staff, seeded):
    exp = Experiment.objects.get(key="pricing_v2")
    url = "/admin/experiments/experiment/"
    staff.post(url, {"action": "pause", "_selected_action": [exp.pk]})
    exp.refresh_from_db()
    assert exp.status == "paused" and exp.updated_by == "admin:root"
    staff.post(url, {"action": "resume", "_selected_action": [exp.pk]})
    exp.refresh_from_db()
    assert exp.status == "running"
    r = staff.post(url, {"action": "stop", "_selected_action": [exp.pk]})
    assert r.status_code == 200 and f'name="winner_{exp.pk}"' in r.content.decode()
    exp.refresh_from_db()
    assert exp.status == "running"  # the intermediate page changes nothing
    staff.post(
        url,
        {"action": "stop", "_selected_action": [exp.pk], "confirm": "yes", f"winner_{exp.pk}": "B"},
    )
    exp.refresh_from_db()
    assert (exp.status, exp.winner) == ("stopped", "B")


def test_add_through_admin_uses_the_same_rules(staff, seeded):
    url = "/admin/experiments/experiment/add/"
    r = staff.post(url, {"key": "dup", "variants": '["x", "y"]', "weights": "", "salt": "ECHO2025"})
    assert r.status_code == 200 and "already used by experiment" in r.content.decode()
    r = staff.post(url, {"key": "dupv", "variants": '["x", "x"]', "weights": "", "salt": ""})
    assert "duplicate variants" in r.content.decode()
    r = staff.post(
        url, {"key": "new_exp", "variants": '["x", "y"]', "weights": "[3, 1]", "salt": ""}
    )
    assert r.status_code == 302
    exp = Experiment.objects.get(key="new_exp")
    assert (exp.weights, exp.salt, exp.updated_by) == ([3, 1], "new_exp", "admin:root")


def test_add_that_loses_a_race_shows_the_error_and_saves_nothing(staff, seeded, monkeypatch):
    create = services.experiment_create

    def racing_create(**kwargs):
        # Another admin creates the same key after the form validated.
        create(key=kwargs["key"], variants=["p", "q"], salt="RACE", actor="other")
        return create(**kwargs)

    monkeypatch.setattr(services, "experiment_create", racing_create)
    url = "/admin/experiments/experiment/add/"
    r = staff.post(url, {"key": "raced", "variants": '["x", "y"]', "weights": "", "salt": ""})
    assert r.status_code == 302 and r.url == url
    page = staff.get(url).content.decode()
    assert "already exists" in page
    exp = Experiment.objects.get(key="raced")
    assert (exp.variants, exp.updated_by) == (["p", "q"], "other")


def test_change_that_loses_a_race_shows_the_error(staff, seeded, monkeypatch):
    exp = Experiment.objects.get(key="pricing_v2")
    update = services.experiment_update

    def racing_update(**kwargs):
        services.assign(experiment="pricing_v2", user="early", actor="t")  # now locked
        return update(**kwargs)

    monkeypatch.setattr(services, "experiment_update", racing_update)
    url = f"/admin/experiments/experiment/{exp.pk}/change/"
    data = {"variants": '["A", "B"]', "weights": "[3, 1]", "salt": "ECHO2025"}
    r = staff.post(url, {**data, "description": "d"})
    assert r.status_code == 302 and r.url == url
    assert "has exposures" in staff.get(url).content.decode()
    exp.refresh_from_db()
    assert exp.weights == [1, 1]


def test_refused_action_names_the_experiment_and_changes_nothing(staff, seeded):
    services.experiment_set_status(key="pricing_v2", status="stopped", actor="t")
    exp = Experiment.objects.get(key="pricing_v2")
    url = "/admin/experiments/experiment/"
    r = staff.post(url, {"action": "resume", "_selected_action": [exp.pk]}, follow=True)
    html = r.content.decode()
    # The admin capitalises messages; the key names which selected experiment failed.
    assert "Pricing_v2: Experiment &#x27;pricing_v2&#x27; is stopped" in html
    exp.refresh_from_db()
    assert exp.status == "stopped"
