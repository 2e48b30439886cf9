"""OpenAPI: the flags app's closed input objects say `additionalProperties: false`."""

from drf_spectacular.extensions import OpenApiSerializerExtension


class ClosedSerializerExtension(OpenApiSerializerExtension):
    """Every `flags.serializers.ClosedSerializer` refuses unknown fields; the schema says so."""

    target_class = "flags.serializers.ClosedSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        from flags.serializers import ClosedSerializer

        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        if schema.get("description") == ClosedSerializer.__doc__:
            del schema["description"]  # the base class's docstring says nothing about this one
        return schema
