"""`manage.py cost_report`."""

import io
import json

import pytest
from django.core.management import call_command

from costs.models import CostReport

pytestmark = pytest.mark.django_db


def test_command_stores_and_prints_the_report(log_dir, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("cost_report", stdout=out)

    printed = json.loads(out.getvalue())
    row = CostReport.objects.get()
    assert printed["ok"] is True and printed["report_id"] == row.id
    assert row.actor == "cli"
    assert json.loads((log_dir / "cost_report.json").read_text())["report_id"] == row.id
    assert len((log_dir / "cost_report.ndjson").read_text().splitlines()) == 1


def test_command_dry_run_stores_nothing():
    out = io.StringIO()
    call_command("cost_report", "--dry-run", stdout=out)

    assert json.loads(out.getvalue())["saved"] is False
    assert CostReport.objects.count() == 0
