"""Admin: the reports list with its SVG trend chart, a report's breakdown, generate now."""

import datetime as dt
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from costs import services
from costs.models import CostReport

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client.force_login(user)
    return client


def test_changelist_shows_totals_and_an_inline_svg_chart(staff, make_report, settings):
    settings.COST_MONTHLY_BUDGET_USD = 5.0
    now = timezone.now()
    make_report(now - dt.timedelta(days=2), 1.25)
    make_report(now - dt.timedelta(days=1), 3.5)

    res = staff.get("/admin/costs/costreport/")

    html = res.content.decode()
    assert res.status_code == 200
    assert "<svg" in html and "<polyline" in html
    assert html.count("<circle") == 2
    start = html.index('<svg class="cost-trend"')
    svg = html[start : html.index("</svg>", start) + len("</svg>")]
    ElementTree.fromstring(svg)  # well-formed XML
    assert "budget" in html
    assert "3.50 USD" in html and "1.25 USD" in html
    assert "cdn" not in html.lower() and '<script src="http' not in html


def test_changelist_without_reports_says_so(staff):
    res = staff.get("/admin/costs/costreport/")

    assert "No stored reports yet" in res.content.decode()


def test_breakdown_page_shows_directories_and_subfolders(staff, settings, log_dir):
    (log_dir / "archive").mkdir(parents=True)
    (log_dir / "archive" / "old.ndjson").write_bytes(b"x" * 4321)
    report = services.create_report(save=True, actor="cli")

    res = staff.get(f"/admin/costs/costreport/{report['report_id']}/change/")

    html = res.content.decode()
    assert res.status_code == 200
    assert "Storage by directory" in html
    assert "archive" in html and "4321" in html
    assert str(settings.BACKUP_DIR) in html  # listed, with its "does not exist" note
    assert "does not exist" in html


def test_breakdown_of_unknown_report_is_404(staff):
    assert staff.get("/admin/costs/costreport/999/change/").status_code == 404


def test_generate_button_stores_a_report_as_the_admin(staff):
    res = staff.post("/admin/costs/costreport/generate/")

    assert res.status_code == 302
    assert CostReport.objects.get().actor == "admin:boss"


def test_admin_needs_login(client):
    res = client.get("/admin/costs/costreport/")

    assert res.status_code == 302 and "/admin/login/" in res["Location"]


def test_reports_cannot_be_deleted_in_the_admin(staff, make_report):
    report = make_report(timezone.now(), 1.0)

    res = staff.post(f"/admin/costs/costreport/{report.pk}/delete/", {"post": "yes"})

    assert res.status_code == 403
    assert CostReport.objects.filter(pk=report.pk).exists()
