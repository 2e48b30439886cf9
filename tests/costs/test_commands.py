"""`manage.py costs report|history` and the seed name `manage.py cost_report`."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from costs.management.commands.costs import Command as Costs
from costs.models import CostReport
from costs.selectors import HISTORY_DAYS, MAX_HISTORY_DAYS

pytestmark = pytest.mark.django_db

# The report under its new name and under the seed's name: same options, same output.
NAMES = [("costs", "report"), ("cost_report",)]
names = pytest.mark.parametrize("name", NAMES, ids=" ".join)


def run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


@names
def test_command_stores_and_prints_the_report(log_dir, django_capture_on_commit_callbacks, name):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(*name, stdout=out)

    printed = json.loads(out.getvalue())
    row = CostReport.objects.get()
    assert printed["ok"] is True and printed["report_id"] == row.id
    assert row.actor == "cli"
    assert json.loads((log_dir / "cost_report.json").read_text())["report_id"] == row.id
    assert len((log_dir / "cost_report.ndjson").read_text().splitlines()) == 1


@names
def test_command_dry_run_stores_nothing(name):
    out = io.StringIO()
    call_command(*name, "--dry-run", stdout=out)

    assert json.loads(out.getvalue())["saved"] is False
    assert CostReport.objects.count() == 0


@names
def test_indent_pretty_prints(name):
    out = io.StringIO()
    call_command(*name, "--dry-run", "--indent", "2", stdout=out)

    text = out.getvalue()
    assert text.startswith('{\n  "ok": true,') and json.loads(text)["saved"] is False


def test_history_prints_what_the_api_returns(api, make_report):
    now = timezone.now()
    old = make_report(now - dt.timedelta(days=HISTORY_DAYS + 1), 1.0)
    first = make_report(now - dt.timedelta(days=2), 2.0)
    second = make_report(now - dt.timedelta(hours=1), 3.0)

    printed = run("costs", "history")

    assert printed == api.get("/api/costs/history").json()
    assert (printed["ok"], printed["count"]) == (True, 2)
    assert [r["id"] for r in printed["reports"]] == [first.id, second.id]
    assert [r["id"] for r in run("costs", "history", "--days", "1")["reports"]] == [second.id]
    assert old.id in [
        r["id"] for r in run("costs", "history", "--days", str(MAX_HISTORY_DAYS))["reports"]
    ]


@pytest.mark.parametrize("days", [0, MAX_HISTORY_DAYS + 1])
def test_history_out_of_range_is_invalid_input(days):
    with pytest.raises(CommandError, match=f"from 1 to {MAX_HISTORY_DAYS}") as refused:
        call_command("costs", "history", "--days", str(days), stdout=io.StringIO())
    assert refused.value.returncode == 2


def test_help_lists_the_actions():
    text = Costs().create_parser("manage.py", "costs").format_help()
    assert "report" in text and "history" in text
