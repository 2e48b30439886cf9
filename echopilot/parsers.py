"""JSON request parsing with limits every API body shares."""

import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 64
# NUL cannot be stored by PostgreSQL; an unpaired surrogate cannot be encoded.
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def check_json(value, max_depth: int = MAX_DEPTH) -> None:
    """Raise ParseError if `value` nests too deep or holds an unstorable string."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise ParseError(f"JSON parse error - nested deeper than {max_depth} levels")
        if isinstance(item, str):
            if FORBIDDEN.search(item):
                raise ParseError(
                    "JSON parse error - strings must not contain NUL or unpaired surrogates"
                )
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth))
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, refusing bodies nested too deep or with NUL/surrogates."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        check_json(data)
        return data
