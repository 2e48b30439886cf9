"""API input and output shapes for incidents."""

from rest_framework import serializers

from echopilot.schema import FALSY, JSON_VALUE, NO_NUL, PY_SPACE
from echopilot.serializers import QueryIntegerField, StrictCharField, StrictSerializer
from incidents.alertmanager import MAX_ALERTS, MAX_FIELD_NAME, MAX_FIELDS
from incidents.models import Alert, Severity
from incidents.selectors import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, STATUS_FILTERS
from incidents.services import MAX_SILENCE_DAYS, NOTE_MAX, SILENCE_KEY_MAX, SILENCE_REASON_MAX


class IncidentListQuerySerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=STATUS_FILTERS, required=False)
    limit = QueryIntegerField(min_value=1, max_value=LIST_LIMIT_MAX, default=LIST_LIMIT_DEFAULT)


class EmptySerializer(StrictSerializer):
    """A body with no fields (an empty object or no body at all)."""

    falsy_body_is_empty = True  # the views take any falsy body for none (`request.data or {}`)


# services.SILENCE_KEY on the trimmed key, in ECMA terms (Python's whitespace).
SILENCE_KEY = (
    f"^[{PY_SPACE}]*(slo|payout|cost|ops|alert|self)(:[^{PY_SPACE}\\u0000]{{1,190}})?[{PY_SPACE}]*$"
)


class IncidentActionSerializer(StrictSerializer):
    """Acknowledge/resolve: no body, or an optional note."""

    falsy_body_is_empty = True  # the views take any falsy body for none (`request.data or {}`)

    note = StrictCharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class NoteCreateSerializer(StrictSerializer):
    text = StrictCharField(max_length=NOTE_MAX)


class NoteOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incident_id = serializers.IntegerField()
    text = serializers.CharField()
    author = serializers.CharField()
    created_at = serializers.DateTimeField()


class NoteCreatedSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    note = NoteOutSerializer()


class SilenceCreateSerializer(StrictSerializer):
    # The key's pattern and `until`'s range are checked by services.validate_silence.
    key = StrictCharField(max_length=SILENCE_KEY_MAX, style={"openapi": {"pattern": SILENCE_KEY}})
    until = serializers.DateTimeField(
        help_text=f"ISO-8601; without an offset it is UTC. In the future, at most "
        f"{MAX_SILENCE_DAYS} days ahead."
    )
    reason = StrictCharField(
        max_length=SILENCE_REASON_MAX, required=False, allow_blank=True, default=""
    )

    def validate_until(self, value):
        if not isinstance(self.initial_data.get("until"), str):
            raise serializers.ValidationError("Must be an ISO-8601 string.")
        return value


class AlertOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.choices)
    status = serializers.CharField(help_text="pending, delivered or dry_run.")
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()


class RunbookSerializer(serializers.Serializer):
    pattern = serializers.CharField()
    url = serializers.URLField()


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(
        help_text="opened, alert, escalated, silenced, acknowledged, note, reopened, "
        "flapping, resolved."
    )
    text = serializers.CharField()
    actor = serializers.CharField(required=False)
    alert_id = serializers.IntegerField(required=False)
    alert_kind = serializers.CharField(required=False)
    channel = serializers.CharField(required=False, allow_null=True)
    status = serializers.CharField(required=False)
    attempts = serializers.IntegerField(required=False)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)
    last_error = serializers.CharField(required=False)


class IncidentOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="open, acknowledged or resolved.")
    severity = serializers.ChoiceField(choices=Severity.choices)
    issue_keys = serializers.ListField(child=serializers.CharField())
    details = serializers.ListField(child=serializers.CharField())
    silenced_keys = serializers.ListField(child=serializers.CharField())
    opened_at = serializers.DateTimeField()
    opened_by = serializers.CharField()
    last_seen_at = serializers.DateTimeField()
    last_alert_at = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.CharField()
    duration_seconds = serializers.IntegerField()
    issue_keys_omitted = serializers.IntegerField(
        help_text="Issue keys past the 200 kept (counted, not listed)."
    )
    reopen_count = serializers.IntegerField(help_text="Times it reopened (flapping).")
    flapping = serializers.BooleanField(help_text="Reopened 3 times or more within an hour.")
    runbooks = RunbookSerializer(many=True)
    alerts = AlertOutSerializer(many=True, required=False)


class IncidentDetailOutSerializer(IncidentOutSerializer):
    timeline = TimelineEntrySerializer(many=True)


class IncidentDetailSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    incident = IncidentDetailOutSerializer()


class IncidentListSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    incidents = IncidentOutSerializer(many=True)


class IncidentChangeSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    changed = serializers.BooleanField()
    incident = IncidentOutSerializer()


class IssueOutSerializer(serializers.Serializer):
    key = serializers.CharField()
    detail = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField())
    silenced = serializers.BooleanField()


class AlertBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Alert.Kind.choices)
    status = serializers.CharField(help_text="pending, delivered or dry_run.")
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()


class ScanResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    breach = serializers.BooleanField()
    incident_count = serializers.IntegerField(help_text="Issues detected (one per detail line).")
    details = serializers.ListField(child=serializers.CharField())
    severity = serializers.ChoiceField(choices=Severity.choices, allow_null=True)
    incident_id = serializers.IntegerField(allow_null=True)
    incident_status = serializers.CharField(
        allow_null=True, help_text="open, acknowledged or resolved."
    )
    alerted = serializers.BooleanField(help_text="This scan queued an alert message.")
    alert = AlertBriefSerializer(allow_null=True)
    delivered = serializers.IntegerField(help_text="Messages Telegram accepted during this scan.")
    pending_alerts = serializers.IntegerField(help_text="Alerts still waiting to be delivered.")
    dry_run = serializers.BooleanField()
    issues = IssueOutSerializer(many=True)
    sources = serializers.DictField(
        child=serializers.DictField(), help_text="Per source: status ok/missing/invalid, reason."
    )
    resolve_blocked = serializers.CharField(required=False)


class SilenceOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    until = serializers.DateTimeField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()


class SilenceCreatedSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    silence = SilenceOutSerializer()


class SilenceListSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    silences = SilenceOutSerializer(many=True)


# What parse_webhook accepts where a DRF field cannot say it.
# alertname: not blank once echopilot.text.single_line has cleaned it (controls,
# bidi marks and Python's whitespace go), NUL refused anywhere.
BLANK_LINE = (
    "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u200e\\u200f\\u2028\\u2029"
    "\\u202a-\\u202f\\u205f\\u2066-\\u2069\\u3000"
)
TEXT = {"type": "string", "pattern": f"^[^\\u0000]*[^{BLANK_LINE}][^\\u0000]*$"}
WHEN = {
    "type": None,
    "format": None,
    "nullable": True,
    "anyOf": [{"type": "string", "format": "date-time"}, {"enum": [""]}],
}
FINGERPRINT = {  # a falsy value means "derive it from the labels"
    "type": None,
    "pattern": None,
    "minLength": None,
    "nullable": True,
    "anyOf": [
        {"type": "string", "maxLength": 200, "pattern": NO_NUL},
        {"enum": [False, 0, [], {}]},
    ],
}
# incidents.alertmanager._strings: an object of at most MAX_FIELDS strings,
# names of at most MAX_FIELD_NAME characters.
STRINGS = {
    "type": "object",
    "additionalProperties": {"type": "string", "pattern": NO_NUL},
    "maxProperties": MAX_FIELDS,
    "propertyNames": {"maxLength": MAX_FIELD_NAME, "pattern": NO_NUL},
}
LABELS = {**STRINGS, "required": ["alertname"], "properties": {"alertname": TEXT}}
FALSY_OR_STRINGS = {  # `or {}`: any falsy value is no annotations
    "type": None,
    "additionalProperties": None,
    "propertyNames": None,
    "nullable": True,
    "anyOf": [STRINGS, {"enum": FALSY}],
}
ANY = {"type": None, "pattern": None, "minLength": None, **JSON_VALUE}  # not checked


class AlertmanagerAlertSerializer(serializers.Serializer):
    # The `style` entries say what incidents.alertmanager.parse_webhook accepts.
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        style={"openapi": LABELS},
    )
    annotations = serializers.DictField(
        required=False, allow_null=True, style={"openapi": FALSY_OR_STRINGS}
    )
    startsAt = serializers.DateTimeField(required=False, style={"openapi": WHEN})
    endsAt = serializers.DateTimeField(required=False, style={"openapi": WHEN})
    fingerprint = serializers.CharField(required=False, style={"openapi": FINGERPRINT})


class AlertmanagerWebhookSerializer(serializers.Serializer):
    """Prometheus Alertmanager webhook payload, version 4 (for the schema only).

    The view never validates with it: parse_webhook does, and answers more than
    MAX_ALERTS alerts with 413, not the 400 this serializer would give.
    """

    # echopilot.schema.AutoSchema documents it as a 413 of the operation.
    too_large = (
        f"More than {MAX_ALERTS:,} alerts in one payload (`payload_too_large`; nothing is stored)"
    )

    version = serializers.ChoiceField(choices=["4"])
    status = serializers.CharField(
        required=False, help_text="firing or resolved (not checked).", style={"openapi": ANY}
    )
    alerts = AlertmanagerAlertSerializer(many=True, max_length=MAX_ALERTS)


class AlertmanagerResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    stored = serializers.IntegerField(help_text="Firing critical alerts kept.")
    removed = serializers.IntegerField(help_text="Alerts removed (resolved or no longer critical).")
    ignored = serializers.IntegerField(help_text="Alerts neither kept nor known.")
