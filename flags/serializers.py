"""Input and output shapes of the flags API (and the OpenAPI schema)."""

from datetime import datetime

from rest_framework import serializers

from echopilot.schema import NO_NUL, SOME_TEXT
from echopilot.serializers import (
    QueryIntegerField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from flags.engine import OPERATORS, TYPES, context_problem
from flags.limits import (
    DESCRIPTION_MAX,
    HISTORY_DEFAULT,
    HISTORY_KEY_QUERY_MAX,
    HISTORY_MAX,
    HISTORY_MIN,
    MAX_CONDITIONS,
    MAX_PREREQUISITES,
    NOTE_MAX,
    SCHEDULE_LIST_MAX,
    SEGMENT_NAME_MAX,
    STALE_DAYS_MAX,
    STALE_DAYS_MIN,
    STALE_STATIC_DEFAULT,
    STALE_UNUSED_DEFAULT,
    USAGE_DAYS_DEFAULT,
    USAGE_DAYS_MAX,
)
from flags.models import KEY_PATTERN


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
    prerequisites = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        max_length=MAX_PREREQUISITES,
        help_text='Flags that must evaluate first: [{"flag": "payments.live", "value": true}].',
    )
    announce = StrictBooleanField(required=False, help_text="Announce changes of this flag.")
    announce_channels = serializers.ListField(
        child=StrictCharField(),
        required=False,
        max_length=10,
        help_text="Channel names to announce on ([]: every configured channel).",
    )


class HistoryRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    actor = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # see FlagSetInput.create
    ts_iso = serializers.CharField()
    reverts = serializers.IntegerField(
        allow_null=True, help_text="The history row this one reverted (null: not a revert)."
    )


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
    prerequisites = serializers.ListField(child=serializers.JSONField())
    announce = serializers.BooleanField()
    announce_channels = serializers.ListField(child=serializers.CharField())
    updated_by = serializers.CharField()
    updated_iso = serializers.CharField()


class FlagListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    flags = FlagDetailSerializer(many=True)


class ClosedSerializer(StrictSerializer):
    """A StrictSerializer whose schema says so: `additionalProperties: false` (flags.schema)."""


# engine.normalize_condition: the operand each operator takes.
SCALAR = {
    "nullable": True,
    "anyOf": [{"type": "string", "pattern": NO_NUL}, {"type": "number"}, {"type": "boolean"}],
}
OPERANDS = [
    (["eq", "neq", "contains"], SCALAR),
    (["in", "not_in"], {"type": "array", "items": SCALAR}),
    (["starts_with"], {"type": "string", "pattern": NO_NUL}),
    (
        ["gt", "gte", "lt", "lte"],
        {"anyOf": [{"type": "string", "pattern": NO_NUL}, {"type": "number"}]},
    ),
]
assert sorted(op for ops, _ in OPERANDS for op in ops) == sorted(OPERATORS)


class ConditionSerializer(ClosedSerializer):
    openapi = {
        "anyOf": [
            # A pattern, not an enum: drf-spectacular would replace an enum by the shared one.
            {"properties": {"op": {"pattern": f"^({'|'.join(ops)})$"}, "value": operand}}
            for ops, operand in OPERANDS
        ]
    }

    attribute = StrictCharField(trim_whitespace=False, style={"openapi": {"pattern": SOME_TEXT}})
    op = serializers.ChoiceField(choices=OPERATORS)
    value = serializers.JSONField(allow_null=True)


class ScheduleChangeSerializer(ClosedSerializer):
    openapi = {"minProperties": 1}  # scheduling.check_change: an empty change is refused

    value = serializers.JSONField(required=False)
    enabled = StrictBooleanField(required=False)
    rules = serializers.ListField(child=serializers.JSONField(), required=False)
    rollout = serializers.JSONField(required=False, allow_null=True)


class ScheduleInput(ClosedSerializer):
    key = StrictCharField(trim_whitespace=False)
    at = serializers.DateTimeField(
        help_text="ISO-8601 with a zone, at most 60 s past and a year ahead, e.g. "
        "`2026-12-01T09:00:00Z`."
    )
    change = ScheduleChangeSerializer(
        help_text="What to set: any of value, enabled, rules, rollout."
    )
    note = StrictCharField(required=False, allow_blank=True, max_length=NOTE_MAX, default="")

    def validate_at(self, value):
        raw = self.initial_data.get("at") if isinstance(self.initial_data, dict) else None
        if not isinstance(raw, str) or not _has_zone(raw):
            raise serializers.ValidationError("Give the time zone (e.g. Z or +01:00).")
        return value

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        # The raw change (only the fields given), not the nested serializer's output.
        validated["change"] = dict(data["change"])
        return validated


def _has_zone(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


class ScheduleRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    at = serializers.CharField()
    change = serializers.JSONField()
    note = serializers.CharField()
    state = serializers.ChoiceField(choices=["pending", "applied", "cancelled", "failed"])
    created_by = serializers.CharField()
    created_at = serializers.CharField()
    applied_at = serializers.CharField(allow_null=True)
    error = serializers.CharField()


class ScheduleOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    schedule = ScheduleRowSerializer()


class ScheduleCreatedOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    id = serializers.IntegerField(help_text="The new schedule's id (the same as schedule.id).")
    schedule = ScheduleRowSerializer()


class ScheduleQuery(ClosedSerializer):
    key = serializers.CharField(required=False, max_length=HISTORY_KEY_QUERY_MAX)
    state = serializers.ChoiceField(
        choices=["pending", "applied", "cancelled", "failed"], required=False
    )
    limit = QueryIntegerField(
        required=False, min_value=1, max_value=SCHEDULE_LIST_MAX, default=SCHEDULE_LIST_MAX
    )

    def to_internal_value(self, data):
        return super().to_internal_value({k: v for k, v in data.items() if v != ""})


class ScheduleListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    schedules = ScheduleRowSerializer(many=True)


class SegmentInput(ClosedSerializer):
    name = StrictCharField(
        max_length=SEGMENT_NAME_MAX,
        trim_whitespace=False,
        style={"openapi": {"pattern": KEY_PATTERN}},  # segments.validate_name
    )
    conditions = ConditionSerializer(many=True, max_length=MAX_CONDITIONS, min_length=1)
    description = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=DESCRIPTION_MAX
    )

    def to_internal_value(self, data):
        validated = super().to_internal_value(data)
        validated["conditions"] = data["conditions"]  # validated again by the service
        return validated


class SegmentSerializer(serializers.Serializer):
    name = serializers.CharField()
    conditions = serializers.ListField(child=serializers.DictField())
    description = serializers.CharField()
    used_by = serializers.ListField(child=serializers.CharField())
    updated_by = serializers.CharField()
    updated_iso = serializers.CharField()


class SegmentListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    segments = SegmentSerializer(many=True)


class SegmentSetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    name = serializers.CharField()
    conditions = serializers.ListField(child=serializers.DictField())
    description = serializers.CharField()
    created = serializers.BooleanField()
    changed = serializers.ListField(child=serializers.CharField())
    history = HistoryRowSerializer(many=True)


class UsageQuery(ClosedSerializer):
    key = serializers.CharField(max_length=HISTORY_KEY_QUERY_MAX)
    days = QueryIntegerField(
        required=False, min_value=1, max_value=USAGE_DAYS_MAX, default=USAGE_DAYS_DEFAULT
    )


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    variants = serializers.DictField(child=serializers.IntegerField(min_value=0))


class UsageOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    key = serializers.CharField()
    days = UsageDaySerializer(many=True)


class StaleQuery(ClosedSerializer):
    unused_days = QueryIntegerField(
        required=False,
        min_value=STALE_DAYS_MIN,
        max_value=STALE_DAYS_MAX,
        default=STALE_UNUSED_DEFAULT,
    )
    static_days = QueryIntegerField(
        required=False,
        min_value=STALE_DAYS_MIN,
        max_value=STALE_DAYS_MAX,
        default=STALE_STATIC_DEFAULT,
    )


class StaleFlagSerializer(serializers.Serializer):
    key = serializers.CharField()
    reason = serializers.ChoiceField(choices=["unused", "static"])
    last_evaluated = serializers.CharField(allow_null=True)
    value = serializers.JSONField(allow_null=True)
    since = serializers.CharField(allow_null=True)
    last_change = serializers.CharField(allow_null=True)


class StaleOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    flags = StaleFlagSerializer(many=True)


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
