"""Costs admin: money with its currency, round 1-2-5 ticks, the budget line or its setting."""

import datetime as dt
import math
import re

import pytest
from django.utils import timezone

from costs import services
from costs.charts import nice_step, ticks, trend_chart
from tests.console import data


@pytest.mark.parametrize(
    ("span", "step"),
    [(1.0, 0.2), (3.7, 1.0), (8.5, 2.0), (10.0, 2.0), (17.0, 5.0), (0.042, 0.01), (230.0, 50.0)],
)
def test_ticks_step_in_1_2_5(span, step):
    assert nice_step(span) == pytest.approx(step)
    values = ticks(span)
    assert values[0] == 0 and values[-1] >= span
    gaps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert gaps == {round(step, 9)}
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 5)


def test_chart_axis_labels_are_round_and_the_budget_is_a_line():
    now = timezone.now()
    chart = trend_chart([(now, 3.3), (now + dt.timedelta(days=1), 7.9)], currency="EUR", budget=9)
    assert [g["label"] for g in chart["grid"]] == ["0", "2", "4", "6", "8", "10"]
    assert chart["budget"]["value"] == "9.00 EUR"
    assert chart["dots"][1]["value"] == "7.90 EUR"


pytestmark = pytest.mark.django_db


def test_changelist_shows_money_with_currency_and_round_ticks(viewer_client, settings):
    settings.COST_MONTHLY_BUDGET_USD = 10.0
    data.cost_reports(5)
    page = viewer_client.get("/admin/costs/costreport/").content.decode()
    assert "8.50 EUR" in page and "85.0% of 10.00 EUR" in page
    assert "Budget: 10.00 EUR a month" in page
    labels = re.findall(r'text-anchor="end" font-size="11">([\d.,]+)</text>', page)
    assert labels == ["0", "2", "4", "6", "8", "10"]
    assert 'stroke-dasharray="6 4"' in page  # the budget line


def test_without_a_budget_the_pages_name_the_setting(viewer_client, settings):
    settings.COST_MONTHLY_BUDGET_USD = None
    data.cost_reports(2, budget=None)
    page = viewer_client.get("/admin/costs/costreport/").content.decode()
    assert "No budget is set: set <code>COST_MONTHLY_BUDGET_USD</code>" in page
    assert "stroke-dasharray" not in page


def test_breakdown_shows_every_amount_with_its_currency(viewer_client, settings):
    settings.COST_CURRENCY = "EUR"
    settings.COST_MONTHLY_BUDGET_USD = None
    report = services.create_report(save=True, actor="cli")
    page = viewer_client.get(f"/admin/costs/costreport/{report['report_id']}/change/")
    body = page.content.decode()
    cells = re.findall(r"<td>([^<]*EUR)</td>", body)
    assert len(cells) >= 3  # storage, compute, bandwidth
    assert re.search(r"<th>[^<]* EUR</th>", body)  # the total
    assert "COST_MONTHLY_BUDGET_USD" in body
    assert re.search(r"Computed \d{4}-\d\d-\d\d \d\d:\d\d UTC", body)
