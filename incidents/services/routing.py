"""Which channels an incident's alerts go to: routes, escalation tiers, runbooks.

Routes and tiers come from `configs/incidents.json` through the core channel
facility. A tier fires once per episode: tiers at 0 minutes with the alert
that opens (or reopens) the incident, later tiers on the first scan past their
delay while nobody has acknowledged. Every later alert goes to every channel
told so far; the resolved message goes to every channel that was notified.
"""

import datetime as dt
from typing import Any

from echopilot import channels
from incidents.models import Incident


def config() -> channels.Config:
    return channels.load()


def due_tiers(
    incident: Incident, conf: channels.Config, *, severity: str, keys: list[str], now: dt.datetime
) -> list[tuple[str, channels.Tier]]:
    """Return the tiers whose time has come (later tiers only while unacknowledged)."""
    start = incident.escalation_started_at or incident.opened_at
    elapsed = (now - start).total_seconds() / 60
    acknowledged = incident.status != Incident.Status.OPEN
    return [
        (tier_id, tier)
        for tier_id, tier in channels.matching_tiers(conf, severity=severity, keys=keys)
        if tier.after_minutes <= elapsed and not (tier.after_minutes > 0 and acknowledged)
    ]


def _usable(conf: channels.Config, names: Any) -> list[str]:
    return [n for n in dict.fromkeys(names) if n in conf.channels]


def targets_now(
    incident: Incident, conf: channels.Config, *, severity: str, keys: list[str], now: dt.datetime
) -> tuple[list[str], list[tuple[str, channels.Tier]]]:
    """Return the channels of an alert queued now, and the tiers it fires for the first time."""
    due = due_tiers(incident, conf, severity=severity, keys=keys, now=now)
    names = _usable(conf, [*incident.notified_channels, *(c for _, t in due for c in t.channels)])
    fresh = [(tid, t) for tid, t in due if tid not in incident.fired_tiers]
    return names, fresh


def newly_due(
    incident: Incident, conf: channels.Config, *, severity: str, keys: list[str], now: dt.datetime
) -> tuple[list[str], list[tuple[str, channels.Tier]]]:
    """Return the channels not told yet of tiers due now and not fired, and those tiers."""
    due = due_tiers(incident, conf, severity=severity, keys=keys, now=now)
    fresh = [(tid, t) for tid, t in due if tid not in incident.fired_tiers]
    told = set(incident.notified_channels)
    names = [n for n in _usable(conf, (c for _, t in fresh for c in t.channels)) if n not in told]
    return names, fresh


def mark(incident: Incident, *, fired: list[tuple[str, channels.Tier]], told: list[str]) -> None:
    """Record tiers fired and channels told on the incident (saved by the caller)."""
    incident.fired_tiers = sorted({*incident.fired_tiers, *(tid for tid, _ in fired)})
    incident.notified_channels = list(dict.fromkeys([*incident.notified_channels, *told]))


def runbooks(keys: list[str], conf: channels.Config | None = None) -> list[dict[str, str]]:
    return channels.runbooks_for(conf or config(), keys)


def _where(tier_id: str) -> str:
    return "default (no route matched)" if tier_id == "0.1" else f"route {tier_id}"


def explain(*, severity: str, keys: list[str]) -> list[str]:
    """Return one line per channel a scan would use for these issues, with its tier delay.

    As a scan does: a channel in several matching tiers is told once, by the
    earliest (a later tier finds it told), and a channel that is not configured
    is left out. Those follow, one line each, marked NOT CONFIGURED.
    """
    conf = config()
    reached: dict[str, list[tuple[float, str]]] = {}
    missing: dict[str, list[str]] = {}
    for tier_id, tier in channels.matching_tiers(conf, severity=severity, keys=keys):
        for name in dict.fromkeys(tier.channels):
            if name in conf.channels:
                reached.setdefault(name, []).append((tier.after_minutes, tier_id))
            else:
                missing.setdefault(name, []).append(tier_id)
    lines = []
    for name, tiers in sorted(reached.items(), key=lambda item: min(t[0] for t in item[1])):
        (after, tier_id), *others = sorted(tiers, key=lambda t: t[0])
        also = "".join(f", also route {t} after {a:g} min" for a, t in others)
        delay = f"after {after:g} min"
        what = conf.channels[name].describe()
        lines.append(f"{name:<16} {delay:<14} {_where(tier_id)}{also}  ({what})")
    if not lines:
        lines.append("no channel: a scan's alerts would be dry runs (not sent)")
    for name, tier_ids in missing.items():
        where = ", ".join(_where(t) for t in tier_ids)
        lines.append(f"{name:<16} NOT CONFIGURED: not used  ({where} names it)")
    return lines
