"""Flags config files: load `configs/flags.json` (seed or `version: 2` form) and export it.

Every change goes through `services.flag_set` as actor `config`, so a load is
validated and recorded like any other change. A file that cannot be used
raises `echopilot.config.ConfigError` naming the file and the problem.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from echopilot.config import ConfigError, read_json_config
from echopilot.exceptions import ServiceError
from echopilot.mirror import atomic_write
from flags.limits import SEGMENT_KEY_PREFIX
from flags.models import ChangeField, ChangeSource, Flag, FlagChange, Segment
from flags.segments import segment_set, segment_spec, validate_segment
from flags.services import FIELDS, canon, flag_set, flag_spec, validate_flag

__all__ = ["ConfigError", "LoadResult", "config_path", "flags_export", "flags_load"]


@dataclass
class LoadResult:
    path: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class FlagSpec:
    """One flag of a config file, validated: its type, every field, and the fields given."""

    type: str
    state: dict[str, Any]
    given: set[str]


SPEC_FIELDS = {
    "value",
    "type",
    "description",
    "rules",
    "rollout",
    "enabled",
    "archived",
    "prerequisites",
    "announce",
    "announce_channels",
}
# Fields an export leaves out while they have their default (the file stays short).
_OPTIONAL = {"archived": False, "prerequisites": [], "announce": False, "announce_channels": []}


def _raw_specs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return key -> the fields the file gives, checking the file's shape."""
    if "version" not in data:  # the seed form: {"key": value, ...}
        return {key: {"value": value} for key, value in data.items()}
    if data["version"] != 2:
        raise ConfigError(f"unsupported version {data['version']!r} (expected 2)")
    unknown = sorted(set(data) - {"version", "flags", "segments"})
    if unknown:
        raise ConfigError(f"unknown top-level field(s) {', '.join(unknown)}")
    flags = data.get("flags")
    if not isinstance(flags, dict):
        raise ConfigError("'flags' must be an object of key -> flag")
    raw = {}
    for key, spec in flags.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"flag {key!r}: must be an object with at least 'value'")
        unknown = sorted(set(spec) - SPEC_FIELDS)
        if unknown:
            raise ConfigError(f"flag {key!r}: unknown field(s) {', '.join(unknown)}")
        if "value" not in spec:
            raise ConfigError(f"flag {key!r}: 'value' is required")
        raw[key] = dict(spec)
    return raw


def parse_config(data: Any) -> dict[str, FlagSpec]:
    """Validate a flags config (flat seed form or `version: 2`); return key -> spec."""
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object")
    specs = {}
    for key, spec in _raw_specs(data).items():
        try:
            new_type, state = validate_flag(
                key=key,
                value=spec["value"],
                type_=spec.get("type"),
                retype=False,
                description=spec.get("description", ""),
                rules=spec.get("rules", []),
                rollout=spec.get("rollout"),
                enabled=spec.get("enabled", True),
                archived=spec.get("archived", False),
                prerequisites=spec.get("prerequisites", []),
                announce=spec.get("announce", False),
                announce_channels=spec.get("announce_channels", []),
                links=False,  # segments and prerequisites are checked while loading
            )
        except ServiceError as exc:
            raise ConfigError(f"flag {key!r}: {exc.detail}") from None
        specs[key] = FlagSpec(new_type, state, set(spec) | {"value"})
    return specs


def parse_segments(data: Any) -> dict[str, dict[str, Any]]:
    """Validate the `segments` of a version-2 file: name -> {conditions, description}."""
    raw = data.get("segments", {}) if isinstance(data, dict) and "version" in data else {}
    if not isinstance(raw, dict):
        raise ConfigError("'segments' must be an object of name -> segment")
    segments = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or set(spec) - {"conditions", "description"}:
            raise ConfigError(f"segment {name!r}: an object with conditions and description")
        try:
            segments[name] = validate_segment(
                name=name,
                conditions=spec.get("conditions"),
                description=spec.get("description", ""),
            )
        except ServiceError as exc:
            raise ConfigError(f"segment {name!r}: {exc.detail}") from None
    return segments


def read_config_file(path: Path) -> tuple[dict[str, FlagSpec], dict[str, dict[str, Any]]]:
    """Read and validate a flags config file: (flags, segments); ConfigError names the file."""
    data = read_json_config(path)
    try:
        return parse_config(data), parse_segments(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_config(path: Path) -> dict[str, FlagSpec]:
    """Read and validate a flags config file; raise ConfigError naming file and problem."""
    return read_config_file(path)[0]


def _load_segments(segments: dict[str, dict[str, Any]], actor: str, overwrite: bool) -> None:
    """Create missing segments; replace one only while the file owns it (or `overwrite`)."""
    for name, spec in segments.items():
        current = Segment.objects.filter(name=name).first()
        if current is not None and not overwrite:
            source = (
                FlagChange.objects.filter(key=SEGMENT_KEY_PREFIX + name)
                .order_by("-id")
                .values_list("source", flat=True)
                .first()
            )
            if source not in (ChangeSource.CONFIG, None):
                continue
        segment_set(name=name, actor=actor, **spec)


def _load_order(specs: dict[str, FlagSpec]) -> list[str]:
    """Return the keys with every flag after the flags of the file it requires."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen or key not in specs:
            return
        seen.add(key)
        for p in specs[key].state.get("prerequisites") or []:
            visit(p["flag"])
        order.append(key)

    for key in specs:
        visit(key)
    return order


def config_path() -> Path:
    """Return the default flags config file (read from settings at call time)."""
    return Path(settings.CONFIG_DIR) / "flags.json"


def _owned_fields(flag: Flag) -> set[str]:
    """Return the fields whose latest change came from a config load."""
    latest: dict[str, str] = {}
    created_source = None
    for name, source in flag.changes.order_by("-id").values_list("field", "source"):
        if name == ChangeField.CREATED:
            created_source = source
            break
        latest.setdefault(name, source)
    owned = {n for n, s in latest.items() if s == ChangeSource.CONFIG}
    if created_source in (ChangeSource.CONFIG, None):
        owned |= {n for n in FIELDS if n not in latest}
    return owned


def _load_one(
    flag: Flag | None, key: str, spec: FlagSpec, *, actor: str, overwrite: bool
) -> tuple[str, list[str]]:
    """Apply one spec; return (created | updated | kept | unchanged, fields kept)."""
    if flag is None:
        flag_set(key=key, actor=actor, create=True, type=spec.type, **spec.state)
        return "created", []
    owned = set(FIELDS) if overwrite else _owned_fields(flag)
    current = flag_spec(flag)
    wanted = [n for n in FIELDS if n in spec.given or n == "value"]
    differs = [
        n
        for n in wanted
        if canon(current[n]) != canon(spec.state[n]) or (n == "value" and spec.type != flag.type)
    ]
    apply = [n for n in differs if n in owned]
    kept = [n for n in differs if n not in owned]
    if not apply:
        return ("kept" if kept else "unchanged"), kept
    retype = "value" in apply and spec.type != flag.type
    flag_set(
        key=key,
        actor=actor,
        type=spec.type if retype else None,
        retype=retype,
        **{n: spec.state[n] for n in apply},
    )
    return "updated", kept


def flags_load(
    *, path: Path | str | None = None, actor: str = "config", overwrite: bool = False
) -> LoadResult:
    """Load a flags config: create missing flags; never overwrite a changed value.

    A field is updated from the file only if its last change came from a
    config load (the file owns it) or with `overwrite`. A bad file raises
    ConfigError before anything is written.
    """
    path = Path(path) if path else config_path()
    specs, segments = read_config_file(path)
    result = LoadResult(path=str(path))
    try:
        with transaction.atomic():
            _load_segments(segments, actor, overwrite)
            _load_flags(specs, result, actor=actor, overwrite=overwrite)
    except ServiceError as exc:  # a link the file breaks (unknown segment, cycle, ...)
        raise ConfigError(f"{path}: {exc.detail}") from None
    return result


def _load_flags(
    specs: dict[str, FlagSpec], result: LoadResult, *, actor: str, overwrite: bool
) -> None:
    existing = {f.key: f for f in Flag.objects.filter(key__in=list(specs))}
    for key in _load_order(specs):
        outcome, kept = _load_one(
            existing.get(key), key, specs[key], actor=actor, overwrite=overwrite
        )
        if kept:
            result.kept[key] = kept
        if outcome in ("created", "updated", "unchanged"):
            getattr(result, outcome).append(key)


def flags_export(*, path: Path | str | None = None) -> tuple[Path, int]:
    """Write every flag in the extended form (atomically); return (path, count)."""
    path = Path(path) if path else config_path()
    flags = {}
    for flag in Flag.objects.order_by("key"):
        spec = flag_spec(flag)
        for name, default in _OPTIONAL.items():
            if spec[name] == default:
                del spec[name]
        flags[flag.key] = spec
    document: dict[str, Any] = {"version": 2, "flags": flags}
    segments = {s.name: segment_spec(s) for s in Segment.objects.order_by("name")}
    if segments:
        document["segments"] = segments
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text)
    return path, len(flags)
