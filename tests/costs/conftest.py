"""Fixtures for the costs tests: a clean byte counter, known prices, task records."""

import datetime as dt
import uuid

import pytest


@pytest.fixture(autouse=True)
def _costs_defaults(settings):
    """Seed prices, no budget, no extra dirs, and an empty in-memory byte count."""
    from costs.middleware import counter

    settings.COST_STORAGE_PER_GB_MONTH = 0.023
    settings.COST_CPU_PER_HOUR = 0.05
    settings.COST_BANDWIDTH_PER_GB = 0.09
    settings.COST_ALWAYS_ON_HOURS_PER_DAY = 0.0
    settings.COST_CURRENCY = "USD"
    settings.COST_MONTHLY_BUDGET_USD = None
    settings.COST_BUDGET_THRESHOLDS = "50,80,100"
    settings.COST_STORAGE_DIRS = []
    counter.reset()
    yield
    counter.reset()


@pytest.fixture
def make_task():
    """Create a finished Django-Q2 task record that ran from `started` to `stopped`."""
    from django_q.models import Task

    def make(started: dt.datetime, stopped: dt.datetime, success: bool = True):
        return Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"t-{uuid.uuid4().hex[:8]}",
            func="costs.tasks.daily_report",
            started=started,
            stopped=stopped,
            success=success,
        )

    return make


@pytest.fixture
def make_report():
    """Store a cost report row directly, with the given time and total."""
    from costs.models import CostReport

    def make(created_at: dt.datetime, total: float, **extra):
        fields = {
            "actor": "cli",
            "currency": "USD",
            "storage_bytes": 0,
            "storage_monthly_usd": 0.0,
            "compute_hours": 0.0,
            "compute_monthly_usd": total,
            "bandwidth_bytes": 0,
            "bandwidth_monthly_usd": 0.0,
            "total_monthly_usd": total,
            "payload": {"ts_iso": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "total": total},
        }
        fields.update(extra)
        return CostReport.objects.create(created_at=created_at, **fields)

    return make
