"""Input and output shapes of the flags API (and the OpenAPI schema)."""

from rest_framework import serializers

from echopilot.schema import NO_NUL
from echopilot.serializers import (
    QueryIntegerField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from flags.engine import TYPES, context_problem
from flags.limits import (
    DESCRIPTION_MAX,
    HISTORY_DEFAULT,
    HISTORY_KEY_QUERY_MAX,
    HISTORY_MAX,
    HISTORY_MIN,
)


class FlagSetInput(StrictSerializer):
    key = StrictCharField(help_text="Flag key, e.g. `ui.new_dashboard`.", trim_whitespace=False)
    value = serializers.JSONField(
        required=False, help_text="New default value (JSON type of the flag)."
    )
    # `create`, `source` and `context` are the API's field names; DRF's metaclass
    # moves declared fields off the class, so they do not shadow the serializer's
    # own attributes of those names at run time (mypy cannot see that).
    create = StrictBooleanField(  # type: ignore[assignment]
        required=False, help_text="Create the flag if it is missing."
    )
    type = serializers.ChoiceField(
        choices=TYPES, required=False, help_text="Type on creation, or with `retype`."
    )
    retype = StrictBooleanField(required=False, help_text="Allow changing the flag's type.")
    description = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=DESCRIPTION_MAX
    )
    rules = serializers.JSONField(required=False, help_text="Ordered targeting rules (a list).")
    rollout = serializers.JSONField(
        required=False, allow_null=True, help_text="Percentage rollout object, or null."
    )
    enabled = StrictBooleanField(required=False, help_text="false: everyone gets `value`.")
    archived = StrictBooleanField(required=False, help_text="true: hidden and not found.")


class HistoryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    actor = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # see FlagSetInput.create
    ts_iso = serializers.CharField()


class FlagSetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    key = serializers.CharField()
    value = serializers.JSONField()
    previous = serializers.JSONField(allow_null=True)
    type = serializers.CharField()
    created = serializers.BooleanField()
    changed = serializers.ListField(child=serializers.CharField())
    history = HistoryRowSerializer(many=True)


class FlagGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    flags = serializers.DictField(child=serializers.JSONField())


class HistoryQuery(StrictSerializer):
    key = serializers.CharField(required=False, max_length=HISTORY_KEY_QUERY_MAX)
    limit = QueryIntegerField(
        required=False, min_value=HISTORY_MIN, max_value=HISTORY_MAX, default=HISTORY_DEFAULT
    )

    def to_internal_value(self, data):
        # An empty parameter (`?key=&limit=`) means "not given".
        return super().to_internal_value({k: v for k, v in data.items() if v != ""})


class HistoryOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    history = HistoryRowSerializer(many=True)


class RevertInput(StrictSerializer):
    id = StrictIntegerField(min_value=1, help_text="History row to undo.")


class EvaluateInput(StrictSerializer):
    key = StrictCharField(trim_whitespace=False)
    context = serializers.DictField(  # type: ignore[assignment]  # see FlagSetInput.create
        required=False, help_text="Evaluation context attributes."
    )

    def validate_context(self, value):
        problem = context_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class EvaluateOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    key = serializers.CharField()
    value = serializers.JSONField()
    variant = serializers.CharField()
    reason = serializers.CharField()


class FlagDetailSerializer(serializers.Serializer):
    key = serializers.CharField()
    type = serializers.CharField()
    value = serializers.JSONField()
    description = serializers.CharField()
    rules = serializers.JSONField()
    rollout = serializers.JSONField(allow_null=True)
    enabled = serializers.BooleanField()
    archived = serializers.BooleanField()
    updated_by = serializers.CharField()
    updated_iso = serializers.CharField()


class FlagListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    flags = FlagDetailSerializer(many=True)


# OFREP shapes (for the schema only; the views build the bodies directly).
TARGETING_KEY = {"type": "string", "nullable": True, "pattern": NO_NUL}


class OfrepEvaluationRequest(serializers.Serializer):
    # The body is read raw (flags.ofrep.parse_context): other keys may hold anything.
    openapi = {"additionalProperties": {}}
    context = serializers.DictField(  # type: ignore[assignment]  # as above
        required=False,
        allow_null=True,
        style={"openapi": {"properties": {"targetingKey": TARGETING_KEY}}},
    )


class OfrepSuccess(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField()
    reason = serializers.CharField()
    variant = serializers.CharField()
    metadata = serializers.DictField()


class OfrepFailure(serializers.Serializer):
    key = serializers.CharField()
    errorCode = serializers.CharField()
    errorDetails = serializers.CharField()


class OfrepBulkSuccess(serializers.Serializer):
    flags = serializers.ListField(child=serializers.DictField())


class OfrepBulkFailure(serializers.Serializer):
    errorCode = serializers.CharField()
    errorDetails = serializers.CharField()
