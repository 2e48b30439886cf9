"""JSON rendering that never emits NaN or Infinity."""

import json
import math
from typing import Any

from rest_framework import renderers


def finite(value):
    """Return `value` with every NaN/Infinity float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialize to JSON (compact unless `indent` is given); undefined numbers become `null`."""
    if kwargs.get("indent") is None:
        kwargs.setdefault("separators", (",", ":"))
    kwargs.setdefault("ensure_ascii", False)
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        # Rare path: only a body that holds NaN/Infinity pays for the walk.
        return json.dumps(finite(value), allow_nan=False, **kwargs)


class JSONRenderer(renderers.JSONRenderer):
    """DRF's renderer, with NaN/Infinity rendered as null instead of failing."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data, cls=self.encoder_class).encode()
