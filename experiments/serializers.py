"""API input and output shapes for experiments."""

from rest_framework import serializers

from echopilot.serializers import (
    StrictCharField,
    StrictFloatField,
    StrictSerializer,
)
from experiments.limits import EVENT_MAX, KEY_MAX, USER_MAX, VARIANT_MAX


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


class SrmSerializer(serializers.Serializer):
    chi2 = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    srm = serializers.BooleanField()


class ResultsSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    experiment = serializers.CharField()
    event = serializers.CharField()
    status = serializers.CharField()
    variants = VariantResultSerializer(many=True)
    srm = SrmSerializer()
