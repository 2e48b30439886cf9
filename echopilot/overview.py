"""The overview at /admin/: a card registry, and the core's scheduler card.

Each app registers its card in `AppConfig.ready()`:

    from echopilot.overview import register_card

    register_card("flags", title="Flags", order=20,
                  selector=flags.overview.card, template="flags/overview_card.html")

`selector(request)` returns the card's context as a dict with a bounded number
of queries whatever the data size; `templates/admin/index.html` renders each
card's `template` with that dict as `card`. A selector that raises shows an
error in its own card, never breaks the page.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from echopilot.secrets import redact

logger = logging.getLogger("echopilot.overview")

Selector = Callable[[HttpRequest], dict[str, Any]]


@dataclass(frozen=True)
class Card:
    name: str
    title: str
    order: int
    selector: Selector
    template: str


CARDS: dict[str, Card] = {}


def register_card(name: str, *, title: str, order: int, selector: Selector, template: str) -> None:
    """Add (or replace) the overview card `name`; cards show by `order`, then name."""
    CARDS[name] = Card(name=name, title=title, order=order, selector=selector, template=template)


def registered() -> list[Card]:
    return sorted(CARDS.values(), key=lambda c: (c.order, c.name))


def render_cards(request: HttpRequest) -> list[dict[str, Any]]:
    """Run every card's selector; return what the overview template renders."""
    shown = []
    for card in registered():
        entry: dict[str, Any] = {"name": card.name, "title": card.title, "template": card.template}
        try:
            entry["card"] = card.selector(request)
        except Exception as exc:
            logger.exception("overview card %s failed", card.name)
            entry["error"] = f"This card could not be read ({type(exc).__name__}); see the log."
        shown.append(entry)
    return shown


# --- The scheduler card (the schedule registry is the core's) -------------------

FAILED_WINDOW = dt.timedelta(hours=24)
FAILED_SHOWN = 5
FAILURE_TEXT_MAX = 160


def _failure_text(result: Any) -> str:
    """Return the last line of a failed task's result (its exception), redacted."""
    lines = [line for line in str(result or "").strip().splitlines() if line.strip()]
    text = redact(lines[-1].strip() if lines else "no result recorded")
    return text if len(text) <= FAILURE_TEXT_MAX else text[: FAILURE_TEXT_MAX - 1] + "…"


def scheduler_card(request: HttpRequest) -> dict[str, Any]:
    """Each registered schedule's last run, outcome and next run; failures in 24 h (4 queries)."""
    from django_q.models import Schedule, Task

    from echopilot import schedules
    from echopilot.models import ScheduleRun

    entries = schedules.discover()
    rows = {s.name: s for s in Schedule.objects.filter(name__in=list(entries)).order_by("id")}
    runs = {r.name: r for r in ScheduleRun.objects.filter(name__in=list(entries))}
    now = timezone.now()
    shown = []
    for name, entry in sorted(entries.items()):
        row, run = rows.get(name), runs.get(name)
        last = run.last_finished_at if run else None
        due = (last + entry.period(last)) if last else (row.next_run if row else None)
        shown.append(
            {
                "name": name,
                "every": f"every {entry.minutes} min" if entry.minutes else f"cron {entry.cron}",
                "set_up": row is not None,
                "last_run": last,
                "last_ok": run.last_ok if run else None,
                "next_run": row.next_run if row else None,
                "overdue": row is not None and due is not None and now - due > entry.period(now),
            }
        )
    failed = Task.objects.filter(success=False, stopped__gte=now - FAILED_WINDOW)
    fields = ("id", "name", "func", "stopped", "result")
    recent = list(failed.order_by("-stopped").values(*fields)[: FAILED_SHOWN + 1])
    return {
        "schedules": shown,
        "failed_count": failed.count() if len(recent) > FAILED_SHOWN else len(recent),
        "can_see_tasks": request.user.has_perm("django_q.view_failure"),
        "failed": [
            {
                **{k: t[k] for k in ("id", "name", "func", "stopped")},
                "error": _failure_text(t["result"]),
            }
            for t in recent[:FAILED_SHOWN]
        ],
    }
