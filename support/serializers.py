"""Input and output shapes of `POST /api/support/digest`."""

from rest_framework import serializers

from echopilot.serializers import StrictBooleanField, StrictIntegerField, StrictSerializer
from support.models import DEFAULT_LIMIT, MAX_LIMIT


class SupportDigestRequestSerializer(StrictSerializer):
    limit = StrictIntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"Most messages to list, newest first (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
    )
    dry_run = StrictBooleanField(
        required=False, default=False, help_text="List labelled samples instead of real mail."
    )


class SupportDigestItemSerializer(serializers.Serializer):
    from_name = serializers.CharField(help_text="Decoded display name (may be empty).")
    subject = serializers.CharField()
    date = serializers.CharField(
        allow_null=True, help_text="Date header in UTC ISO-8601; null if missing or invalid."
    )
    message_id = serializers.CharField(
        help_text="Message-ID, or a stable synthetic id when it is missing or malformed."
    )
    new = serializers.BooleanField(help_text="True only in the first digest that lists it.")
    urgent = serializers.BooleanField(help_text="Subject matches SUPPORT_URGENT_KEYWORDS.")
    sample = serializers.BooleanField(required=False, help_text="Present (true) in dry runs.")


# "from" is a Python keyword, so the field is added by name.
SupportDigestItemSerializer._declared_fields = {
    "from": serializers.CharField(help_text="Sender's address."),
    **SupportDigestItemSerializer._declared_fields,
}


class SupportDigestResponseSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    count = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    items = SupportDigestItemSerializer(many=True)
    new_count = serializers.IntegerField()
    urgent_count = serializers.IntegerField()
    unseen = serializers.IntegerField(
        allow_null=True, help_text="Unread messages in the mailbox (null in dry runs)."
    )
    mailbox = serializers.CharField()
    digest_id = serializers.IntegerField()
    generated_at = serializers.CharField()
    note = serializers.CharField(required=False, help_text="Dry runs only.")
    dry_run_reason = serializers.ChoiceField(
        choices=["no_credentials", "forced"], required=False, help_text="Dry runs only."
    )


class SupportDigestErrorSerializer(serializers.Serializer):
    ok = serializers.BooleanField(default=False)
    error = serializers.CharField()
    detail = serializers.CharField()
    digest_id = serializers.IntegerField(required=False)
