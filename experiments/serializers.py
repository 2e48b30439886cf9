"""API input and output shapes for experiments."""

from rest_framework import serializers

from echopilot.serializers import (
    StrictCharField,
    StrictFloatField,
    StrictSerializer,
)
from experiments.limits import EVENT_MAX, KEY_MAX, MAX_VARIANTS, USER_MAX, VARIANT_MAX
from experiments.models import Analysis


class AssignSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    user = serializers.CharField()
    experiment = serializers.CharField()
    variant = serializers.CharField()
    description = serializers.CharField()


class EventInSerializer(StrictSerializer):
    # Untrimmed: " conversion" is not "conversion"; the service refuses it rather
    # than storing a name the client never sent.
    event = StrictCharField(max_length=EVENT_MAX, trim_whitespace=False)
    user = StrictCharField(max_length=USER_MAX, trim_whitespace=False)
    exp = StrictCharField(max_length=KEY_MAX, trim_whitespace=False)
    variant = StrictCharField(
        max_length=VARIANT_MAX, required=False, allow_null=True, trim_whitespace=False
    )
    # The |value| cap (VALUE_MAX) and its message are the service's check_value.
    value = StrictFloatField(required=False, allow_null=True)


class LogSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    stored = serializers.IntegerField(help_text="Events stored.")
    exposures_recorded = serializers.IntegerField(help_text="New exposures stored.")
    experiment = serializers.CharField(help_text="Experiment of the (first) event.")
    user = serializers.CharField()
    variant = serializers.CharField()
    event = serializers.CharField()
    value = serializers.FloatField(allow_null=True)


class VariantResultSerializer(serializers.Serializer):
    variant = serializers.CharField()
    users = serializers.IntegerField()
    converters = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    rate_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    uplift_abs = serializers.FloatField(allow_null=True)
    uplift_abs_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    uplift_rel = serializers.FloatField(allow_null=True)
    uplift_rel_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    prob_beat_control = serializers.FloatField(allow_null=True)
    mean_value = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField(
        allow_null=True, help_text="Fixed horizon: p_value < 0.05 (null for the control)."
    )
    uplift_abs_seq_ci = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        min_length=2,
        max_length=2,
        help_text="Always-valid 95% interval of uplift_abs (asymptotic confidence sequence).",
    )
    significant_seq = serializers.BooleanField(
        allow_null=True, help_text="uplift_abs_seq_ci excludes 0."
    )
    mean_value_ci = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, min_length=2, max_length=2
    )
    value_uplift = serializers.FloatField(allow_null=True, help_text="mean_value − control's.")
    value_uplift_ci = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        min_length=2,
        max_length=2,
        help_text="Welch 95% interval (normal quantile).",
    )


class SrmSerializer(serializers.Serializer):
    chi2 = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    srm = serializers.BooleanField()


class ReadingSerializer(serializers.Serializer):
    """How the results are read, and how far the experiment is."""

    analysis = serializers.ChoiceField(choices=Analysis.values)
    planned_users = serializers.IntegerField(min_value=1)
    progress = serializers.FloatField(min_value=0, help_text="Exposed users / planned_users.")
    eta_days = serializers.FloatField(
        allow_null=True,
        min_value=0,
        help_text="Days to planned_users at the last 7 days' exposure rate (null: none, "
        "or not running).",
    )


class ResultsSerializer(ReadingSerializer):
    ok = serializers.BooleanField()
    experiment = serializers.CharField()
    event = serializers.CharField()
    status = serializers.CharField()
    variants = VariantResultSerializer(many=True)
    srm = SrmSerializer()


class MetricBodySerializer(serializers.Serializer):
    variants = VariantResultSerializer(many=True)
    srm = SrmSerializer()


class ResultsAllSerializer(ReadingSerializer):
    ok = serializers.BooleanField()
    experiment = serializers.CharField()
    status = serializers.CharField()
    primary = serializers.CharField(help_text="The primary metric's event.")
    metrics = serializers.DictField(child=MetricBodySerializer(), help_text="By event name.")
    guardrail_failed = serializers.ListField(
        child=serializers.CharField(),
        help_text="Guardrails whose always-valid interval moved the harmful way.",
    )


class PlanSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    users_per_variant = serializers.IntegerField(min_value=1)
    total_users = serializers.IntegerField(min_value=2)
    baseline = serializers.FloatField()
    mde = serializers.FloatField(help_text="Absolute effect (p2 − baseline).")
    mde_rel = serializers.FloatField()
    p2 = serializers.FloatField()
    alpha = serializers.FloatField()
    alpha_per_comparison = serializers.FloatField(help_text="alpha / (variants − 1).")
    power = serializers.FloatField()
    variants = serializers.IntegerField(min_value=2, max_value=MAX_VARIANTS)


class PointVariantSerializer(serializers.Serializer):
    variant = serializers.CharField()
    users = serializers.IntegerField(min_value=0)
    converters = serializers.IntegerField(min_value=0)
    rate = serializers.FloatField(allow_null=True)
    uplift_abs = serializers.FloatField(allow_null=True)
    uplift_abs_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    uplift_abs_seq_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)


class PointSerializer(serializers.Serializer):
    date = serializers.DateField()
    variants = PointVariantSerializer(many=True)


class TimeseriesSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    experiment = serializers.CharField()
    event = serializers.CharField()
    analysis = serializers.ChoiceField(choices=Analysis.values)
    days = PointSerializer(many=True, help_text="Cumulative to the end of each UTC day.")
