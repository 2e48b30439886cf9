"""Stored cost reports and the per-day API bandwidth counter."""

from django.db import models
from django.db.models import Q

from echopilot.text import console_date


class CostReport(models.Model):
    """One computed cost report: headline figures as columns, the full report as JSON."""

    created_at = models.DateTimeField(
        db_index=True, help_text="When the report was computed (UTC)."
    )
    actor = models.CharField(
        max_length=100,
        help_text='Who asked for it: "cli", "schedule", "api:<key>", "admin:<user>".',
    )
    currency = models.CharField(max_length=8, help_text="Label of the amounts (COST_CURRENCY).")
    storage_bytes = models.BigIntegerField(help_text="Bytes of regular files measured.")
    storage_monthly_usd = models.FloatField(help_text="Projected monthly storage cost.")
    compute_hours = models.FloatField(
        help_text="Compute hours projected to a 730-hour month (measured + always-on)."
    )
    compute_monthly_usd = models.FloatField(help_text="Projected monthly compute cost.")
    bandwidth_bytes = models.BigIntegerField(
        help_text="Bytes of API responses served over the 24 hours before the report."
    )
    bandwidth_monthly_usd = models.FloatField(help_text="Projected monthly bandwidth cost.")
    total_monthly_usd = models.FloatField(help_text="Sum of the projected monthly costs.")
    budget_usd = models.FloatField(
        null=True, blank=True, help_text="COST_MONTHLY_BUDGET_USD at report time, if set."
    )
    percent_used = models.FloatField(
        null=True, blank=True, help_text="total_monthly_usd as a percentage of the budget."
    )
    over_budget = models.BooleanField(
        default=False, help_text="True when the projection reached 100% of the budget."
    )
    payload = models.JSONField(help_text="The full report as the API returned it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(storage_bytes__gte=0) & Q(bandwidth_bytes__gte=0),
                name="costs_report_bytes_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(budget_usd__isnull=True) | Q(budget_usd__gte=0),
                name="costs_report_budget_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{console_date(self.created_at)} {self.total_monthly_usd:.2f} {self.currency}"


class BandwidthCounter(models.Model):
    """Bytes of API responses served on one UTC day, summed over every process."""

    day = models.DateField(unique=True, help_text="The UTC day the responses were served on.")
    bytes = models.BigIntegerField(default=0, help_text="Response body bytes served that day.")
    responses = models.BigIntegerField(default=0, help_text="Number of API responses counted.")
    updated_at = models.DateTimeField(auto_now=True, help_text="Last flush into this row.")

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(bytes__gte=0) & Q(responses__gte=0),
                name="costs_bandwidth_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.bytes} bytes in {self.responses} responses"
