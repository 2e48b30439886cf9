"""Checks that span flags: segments a rule names, prerequisites, archiving a required flag.

`check()` runs inside `flag_set`'s transaction (and the admin's dry run), on
the state a change would leave, before anything is written.
"""

from typing import Any

from flags.engine import InvalidFlag, chain_problem, coerce, rule_segments
from flags.exceptions import FlagRequired, InvalidFlagInput
from flags.models import Flag, Segment


def check(key: str, flag: Flag | None, state: dict[str, Any]) -> None:
    """Raise InvalidFlagInput or FlagRequired if `state` breaks a link to another object."""
    _check_segments(state["rules"])
    if state["prerequisites"] and not state["archived"]:
        _check_prerequisites(key, state["prerequisites"])
    if state["archived"] and (flag is None or not flag.archived):
        _check_not_required(key)


def _check_segments(rules: list[dict[str, Any]]) -> None:
    names = rule_segments(rules)
    if not names:
        return
    known = set(Segment.objects.filter(name__in=names).values_list("name", flat=True))
    missing = sorted(names - known)
    if missing:
        raise InvalidFlagInput(f"rules: no segment {', '.join(map(repr, missing))}.")


def _check_prerequisites(key: str, prerequisites: list[dict[str, Any]]) -> None:
    wanted = {p["flag"] for p in prerequisites}
    rows = dict(Flag.objects.filter(key__in=wanted, archived=False).values_list("key", "type"))
    for p in prerequisites:
        if p["flag"] not in rows:
            raise InvalidFlagInput(f"prerequisites: no live flag {p['flag']!r}.")
        try:
            coerce(p["value"], rows[p["flag"]], f"prerequisites: {p['flag']}")
        except InvalidFlag as exc:
            raise InvalidFlagInput(str(exc)) from None
    graph = {
        k: [p["flag"] for p in (prereqs or [])]
        for k, prereqs in Flag.objects.filter(archived=False).values_list("key", "prerequisites")
    }
    graph[key] = [p["flag"] for p in prerequisites]
    for start in graph:
        problem = chain_problem(graph, start)
        if problem:
            raise InvalidFlagInput(f"prerequisites: {problem}.")


def dependents(key: str) -> list[str]:
    """Return the live flags that list `key` as a prerequisite."""
    rows = Flag.objects.filter(archived=False).exclude(key=key)
    return sorted(
        k
        for k, prereqs in rows.values_list("key", "prerequisites")
        if any(p.get("flag") == key for p in prereqs or [])
    )


def _check_not_required(key: str) -> None:
    needed_by = dependents(key)
    if needed_by:
        raise FlagRequired(
            f"{key} is a prerequisite of {', '.join(needed_by)}; remove it there first.",
            required_by=needed_by,
        )
