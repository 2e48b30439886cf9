"""The overview at /admin/: every card, bounded queries, buttons only where allowed."""

import datetime as dt
import html
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from echopilot import overview
from experiments import overview as experiments_overview
from tests.conftest import client_for
from tests.console import data

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    body = response.content.decode()
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_root_redirects_to_the_overview(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_overview_is_for_staff_only(client, django_user_model):
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    django_user_model.objects.create_user("plain", password="pw-console-1")
    client.login(username="plain", password="pw-console-1")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_every_card_renders_in_order_with_the_site_header(viewer_client):
    data.world(5)
    response = viewer_client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    positions = [
        page.index(f'id="card-{name}"')
        for name in ("incidents", "flags", "experiments", "support", "costs", "scheduler")
    ]
    assert positions == sorted(positions)
    assert "<title>Overview | EchoPilot Ops</title>" in page
    assert ">EchoPilot Ops</a>" in page
    assert "could not be read" not in page
    assert '<meta http-equiv="refresh" content="60">' in page


def test_incident_card_shows_the_active_incident(viewer_client):
    data.world(3)
    body = text(viewer_client.get("/admin/"))
    assert "SLO breach: P95=1500ms, Success=0.96" in body
    assert "HIGH" in body and "open for 1h 15m" in body
    assert "20 delivered, 20 pending , 20 failing (retried)" in body


def test_incident_card_says_all_clear_with_the_last_resolved(viewer_client):
    data.incidents(2, active=False)
    body = text(viewer_client.get("/admin/"))
    assert re.search(r"All clear since \d{4}-\d\d-\d\d \d\d:\d\d UTC", body)
    assert "SLO breach #0" in body


def test_incident_buttons_need_the_permission(editor, viewer_client):
    """A viewer never sees them; an editor sees Acknowledge, posting to the admin view."""
    incident = data.incidents(0, active=True)
    assert "Acknowledge</button>" not in viewer_client.get("/admin/").content.decode()
    page = client_for(editor).get("/admin/").content.decode()
    url = reverse("admin:incidents_incident_acknowledge", args=[incident.pk])
    assert f'<form method="post" action="{url}"' in page
    assert "Acknowledge</button>" in page


def test_flags_card_counts_and_links_the_last_ten_changes(viewer_client):
    data.flags(30, changes=25)
    body = viewer_client.get("/admin/").content.decode()
    card = body[body.index('id="card-flags"') : body.index('id="card-experiments"')]
    assert "27 flags</a> in use" in card  # 30 less the 3 archived (0, 11, 22)
    assert "archived</a>" in card and "3 archived" in card
    assert card.count('<tr><td><a href="/admin/flags/flag/') == 10
    assert "admin:someone" in card


def test_flags_card_marks_stale_flags_and_lists_segment_changes(viewer_client):
    from flags import segments, services
    from flags.models import Flag, FlagChange

    services.flag_set(key="ui.never", actor="cli", create=True, value=False)
    long_ago = timezone.now() - dt.timedelta(days=31)
    Flag.objects.filter(key="ui.never").update(created_at=long_ago)
    FlagChange.objects.filter(key="ui.never").update(ts=long_ago)
    segments.segment_set(
        name="beta-testers",
        conditions=[{"attribute": "beta", "op": "eq", "value": True}],
        actor="cli",
    )
    body = viewer_client.get("/admin/").content.decode()
    card = text_of(body[body.index('id="card-flags"') : body.index('id="card-experiments"')])
    assert "Stale (not evaluated for 30 days" in card and "ui.never (unused)" in card
    assert "segment:beta-testers created" in card  # a segment's change, linked to no flag


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def test_experiments_card_shows_leader_chance_and_srm(viewer_client):
    data.experiments(2, users=400, skew=True)
    body = text(viewer_client.get("/admin/"))
    assert "exp_0" in body and "exp_1" in body
    assert "A 320 · B 80" in body  # skewed: 80/20 against 1:1 weights
    assert "Sample ratio mismatch (p < 0.001)" in body
    assert re.search(r"B: \d+\.\d%", body)


def test_experiment_results_are_cached_between_renders(
    viewer_client, django_assert_max_num_queries
):
    data.experiments(3, users=50)
    viewer_client.get("/admin/")
    with django_assert_max_num_queries(20) as warm:
        viewer_client.get("/admin/")
    cache.clear()
    with django_assert_max_num_queries(40) as cold:
        viewer_client.get("/admin/")
    # The uncached experiments' results: exposures and events, read for all 3 at once.
    assert len(cold.captured_queries) - len(warm.captured_queries) == 2


def test_support_card_shows_the_last_digest_and_urgent_subjects(viewer_client):
    data.digests(2)
    body = text(viewer_client.get("/admin/"))
    assert "2 new" in body and "2 urgent" in body
    assert "Site down for everyone" in body and "Refund please" in body
    assert "Hello" not in body


def test_costs_card_colours_the_budget_share(viewer_client, settings):
    data.cost_reports(40)
    body = viewer_client.get("/admin/").content.decode()
    assert "Projected 8.50 EUR a month" in body
    assert "Budget 10.00 EUR a month" in body
    assert 'ep-level-warn">85.0 % used' in body
    assert '<polyline class="ep-spark-line"' in body


def test_costs_card_names_the_budget_setting_when_none_is_set(viewer_client):
    data.cost_reports(3, budget=None)
    body = text(viewer_client.get("/admin/"))
    assert "No budget is set: set COST_MONTHLY_BUDGET_USD" in body


def test_scheduler_card_lists_schedules_and_failed_tasks(viewer_client):
    from echopilot import schedules

    schedules.sync()
    data.failed_tasks(7)
    body = text(viewer_client.get("/admin/"))
    for name in schedules.discover():
        assert name in body
    assert "Failed tasks in the last 24 hours: 7" in body
    assert "ValueError: failure number 0" in body


def test_a_card_that_fails_shows_an_error_and_the_page_still_renders(viewer_client, monkeypatch):
    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setitem(
        overview.CARDS,
        "flags",
        overview.Card("flags", "Flags", 20, broken, "flags/overview_card.html"),
    )
    response = viewer_client.get("/admin/")
    assert response.status_code == 200
    assert "This card could not be read (RuntimeError)" in response.content.decode()


# Session, user, 2 permission reads, then incident 2, flags 4, experiments 1, support 2,
# costs 2, scheduler 4 (plus one count per long list); experiments whose results are
# not cached add 2 whatever their number (read together).
WARM_CEILING = 24  # 20, and 4 for the stale flags
CEILING = WARM_CEILING + 2


@pytest.mark.slow
def test_the_overview_runs_a_fixed_number_of_queries_whatever_the_size(
    viewer_client, django_assert_max_num_queries
):
    """Small and large tables: the same ceiling, warm and cold caches alike."""
    data.world(5)
    cache.clear()
    with django_assert_max_num_queries(CEILING) as small:
        assert viewer_client.get("/admin/").status_code == 200
    data.world(3000, tag="big")  # thousands of rows more in every table the overview reads
    data.experiments(experiments_overview.SHOWN, users=10, tag="many")  # more than are shown
    cache.clear()
    with django_assert_max_num_queries(CEILING):
        assert viewer_client.get("/admin/").status_code == 200
    with django_assert_max_num_queries(WARM_CEILING) as warm:
        assert viewer_client.get("/admin/").status_code == 200
    assert len(warm.captured_queries) <= len(small.captured_queries)
