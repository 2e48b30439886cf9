"""API input and output shapes of the cost report."""

from rest_framework import serializers

from costs.selectors import HISTORY_DAYS, MAX_HISTORY_DAYS
from echopilot.serializers import QueryBooleanField, QueryIntegerField, StrictSerializer


class CostReportQuerySerializer(StrictSerializer):
    # The query parameter is the seed's `save`; the field shadows Serializer.save(),
    # which this input-only serializer never calls.
    save = QueryBooleanField(  # type: ignore[assignment]
        required=False, default=False, help_text="Store the report."
    )


class CostHistoryQuerySerializer(StrictSerializer):
    days = QueryIntegerField(
        required=False,
        default=HISTORY_DAYS,
        min_value=1,
        max_value=MAX_HISTORY_DAYS,
        help_text="Window in days.",
    )


class CostStorageSerializer(serializers.Serializer):
    bytes = serializers.IntegerField()
    gb = serializers.FloatField()
    monthly_usd = serializers.FloatField()
    files = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Entries that vanished or could not be read.")
    breakdown = serializers.ListField(child=serializers.DictField())


class CostComputeSerializer(serializers.Serializer):
    estimated_hours = serializers.FloatField(help_text="Hours projected to a 730-hour month.")
    monthly_usd = serializers.FloatField()
    measured_hours = serializers.FloatField(
        help_text="Task hours measured in the window, as stopped - started of Django-Q2 task "
        "records. Django-Q2 sets `started` when a task is enqueued, so this includes time "
        "spent waiting in the queue: an upper bound of the CPU time used."
    )
    task_runs = serializers.IntegerField()
    always_on_hours_per_day = serializers.FloatField()


class CostPricingSerializer(serializers.Serializer):
    storage_per_gb_month = serializers.FloatField()
    cpu_per_hour = serializers.FloatField()
    bandwidth_per_gb = serializers.FloatField()


class CostWindowSerializer(serializers.Serializer):
    start_iso = serializers.CharField()
    end_iso = serializers.CharField()
    hours = serializers.FloatField()
    hours_per_month = serializers.FloatField()


class CostBandwidthSerializer(serializers.Serializer):
    bytes = serializers.IntegerField(help_text="API response bytes in the window.")
    gb = serializers.FloatField()
    responses = serializers.IntegerField()
    monthly_gb = serializers.FloatField()
    monthly_usd = serializers.FloatField()


class CostBudgetSerializer(serializers.Serializer):
    budget_usd = serializers.FloatField()
    percent_used = serializers.FloatField(allow_null=True)
    thresholds = serializers.ListField(child=serializers.FloatField())
    threshold_reached = serializers.FloatField(allow_null=True)
    over_budget = serializers.BooleanField()


class CostTrendPointSerializer(serializers.Serializer):
    report_id = serializers.IntegerField()
    ts_iso = serializers.CharField()
    total_monthly_usd = serializers.FloatField()
    change_usd = serializers.FloatField()
    change_percent = serializers.FloatField(allow_null=True)


class CostTrendSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "7d": CostTrendPointSerializer(allow_null=True),
            "30d": CostTrendPointSerializer(allow_null=True),
        }


class CostReportBodySerializer(serializers.Serializer):
    ts_iso = serializers.CharField()
    storage = CostStorageSerializer()
    compute = CostComputeSerializer()
    total_monthly_usd = serializers.FloatField()
    pricing = CostPricingSerializer()
    currency = serializers.CharField()
    window = CostWindowSerializer()
    bandwidth = CostBandwidthSerializer()
    budget = CostBudgetSerializer(allow_null=True)
    trend = CostTrendSerializer()


class CostReportResponseSerializer(CostReportBodySerializer):
    ok = serializers.BooleanField()
    saved = serializers.BooleanField()
    report_id = serializers.IntegerField(allow_null=True)


class CostStoredReportSerializer(CostReportBodySerializer):
    id = serializers.IntegerField()
    actor = serializers.CharField()


class CostHistoryResponseSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    reports = CostStoredReportSerializer(many=True)
