"""Strict input fields: a JSON value of the wrong type is refused, never coerced.

DRF's own fields accept `"7"` for an integer and `"yes"` for a boolean; the
API's contract is stricter. `StrictSerializer` also refuses unknown fields.
"""

import math
import re

from rest_framework import serializers

_DIGITS = re.compile(r"[0-9]{1,9}")


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be a JSON boolean (true or false)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be a JSON integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Must be a JSON number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        try:
            return super().to_internal_value(data)
        except OverflowError:  # an integer too large for a float
            self.fail("invalid")


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a JSON string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A query-string integer: digits only ("7"; not "7.0", " 7" or "+7")."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not _DIGITS.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryBooleanField(serializers.BooleanField):
    """A query-string boolean: `true`/`false` (also `1`/`0`)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        lowered = str(data).lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        self.fail("invalid")


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not declare."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class OkSerializer(serializers.Serializer):
    ok = serializers.BooleanField()


class ErrorSerializer(serializers.Serializer):
    """The JSON error format (for the schema)."""

    ok = serializers.BooleanField(default=False)
    error = serializers.CharField()
    detail = serializers.CharField()
