"""JSON request parsing with limits every API body shares, and the storable-JSON check."""

import math
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 64
# NUL cannot be stored by PostgreSQL; an unpaired surrogate cannot be encoded.
FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Return why a string cannot be stored (NUL, unpaired surrogate), or None."""
    match = FORBIDDEN.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return "contains an unpaired surrogate (not valid Unicode text)"


def json_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Return why `value` is not storable JSON (type, NaN, text, nesting), or None.

    Iterative, so a value nested past the interpreter's recursion limit is
    reported rather than crashing the check.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return "NaN and Infinity are not JSON"
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return "object keys must be strings"
                    problem = text_problem(key)
                    if problem:
                        return f"an object key {problem}"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            return f"{type(item).__name__} is not a JSON type"
    return None


def check_json(value: object, max_depth: int = MAX_DEPTH) -> None:
    """Raise ParseError if `value` nests too deep or holds an unstorable string."""
    problem = json_problem(value, max_depth)
    if problem:
        raise ParseError(f"JSON parse error - {problem}")


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, refusing bodies nested too deep or with NUL/surrogates."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from None
        check_json(data)
        return data
