"""Build console data of any size: flags with history, running experiments with
exposures and events, incidents with alerts, digests, cost reports, failed tasks.

Rows are bulk-inserted (the overview's cost must not depend on how many there are).
"""

import datetime as dt
import uuid

from django.utils import timezone

from costs.models import CostReport
from experiments import services
from experiments.models import Event, Experiment, Exposure
from flags.models import Flag, FlagChange
from incidents.models import Alert, Incident
from support.models import Digest, DigestItem, Message


def flags(n: int, changes: int, tag: str = "") -> None:
    now = timezone.now()
    Flag.objects.bulk_create(
        Flag(
            key=f"flag.{tag}{i:05d}",
            type="boolean",
            value=bool(i % 2),
            enabled=i % 7 != 0,
            archived=i % 11 == 0,
            updated_by="cli",
        )
        for i in range(n)
    )
    ids = list(
        Flag.objects.filter(key__startswith=f"flag.{tag}").order_by("id").values_list("id", "key")
    )
    FlagChange.objects.bulk_create(
        FlagChange(
            flag_id=ids[i % n][0],
            key=ids[i % n][1],
            field="value",
            old=False,
            new=True,
            actor="admin:someone",
            source="admin",
            ts=now - dt.timedelta(seconds=changes - i),
        )
        for i in range(changes)
    )


def experiments(n: int, users: int, *, skew: bool = False, tag: str = "") -> list[Experiment]:
    now = timezone.now()
    made = []
    for e in range(n):
        exp = Experiment.objects.create(
            key=f"exp_{tag}{e}",
            variants=["A", "B"],
            weights=[1, 1],
            salt=f"salt-{e}-{uuid.uuid4().hex}",
        )
        made.append(exp)
        share = 0.8 if skew and e == 0 else 0.5
        Exposure.objects.bulk_create(
            (
                Exposure(
                    experiment=exp,
                    user=f"u{i}",
                    variant="A" if i < users * share else "B",
                    created_at=now,
                )
                for i in range(users)
            ),
            batch_size=2000,
        )
        Event.objects.bulk_create(
            (
                Event(
                    experiment=exp,
                    user=f"u{i}",
                    variant="A" if i < users * share else "B",
                    event="conversion",
                    created_at=now,
                )
                for i in range(0, users, 3 if e % 2 else 4)
            ),
            batch_size=2000,
        )
        services.recount(key=exp.key)  # rows written behind the services' back: aggregate them
    return made


def incidents(n: int, *, active: bool) -> Incident | None:
    now = timezone.now()
    Incident.objects.bulk_create(
        Incident(
            status="resolved",
            active=False,
            severity="MEDIUM",
            issue_keys=["slo"],
            details=[f"SLO breach #{i}"],
            opened_at=now - dt.timedelta(days=i + 2),
            opened_by="schedule",
            last_seen_at=now - dt.timedelta(days=i + 1),
            resolved_at=now - dt.timedelta(days=i + 1),
            resolved_by="schedule",
        )
        for i in range(n)
    )
    if not active:
        return None
    incident = Incident.objects.create(
        status="open",
        active=True,
        severity="HIGH",
        issue_keys=["slo", "payout", "cost"],
        details=[
            "SLO breach: P95=1500ms, Success=0.96",
            "Payout mismatch: 3 rows",
            "Cost over budget: 120%",
        ],
        opened_at=now - dt.timedelta(minutes=75),
        opened_by="schedule",
        last_seen_at=now,
    )
    Alert.objects.bulk_create(
        Alert(
            incident=incident,
            kind="open",
            status=status,
            text="alert",
            created_at=now,
            attempts=attempts,
            next_attempt_at=now,
        )
        for status, attempts in [("delivered", 1), ("pending", 0), ("pending", 3)] * 20
    )
    return incident


def digests(n: int, tag: str = "") -> Digest:
    now = timezone.now()
    Digest.objects.bulk_create(
        Digest(
            created_at=now - dt.timedelta(hours=i + 1), actor="schedule", ok=True, limit=20, count=0
        )
        for i in range(n)
    )
    digest = Digest.objects.create(
        created_at=now,
        actor="schedule",
        ok=True,
        limit=20,
        count=3,
        new_count=2,
        urgent_count=2,
        unseen=7,
        mailbox="INBOX",
    )
    for pos, (subject, urgent) in enumerate(
        [("Site down for everyone", True), ("Refund please", True), ("Hello", False)]
    ):
        message = Message.objects.create(
            key=f"<m{pos}{tag}@x>",
            from_address=f"c{pos}@example.com",
            subject=subject,
            urgent=urgent,
            first_seen=now,
            last_seen=now,
            first_digest=digest,
        )
        DigestItem.objects.create(
            digest=digest, message=message, position=pos, uid=pos + 1, new=pos < 2, urgent=urgent
        )
    return digest


def cost_reports(n: int, *, budget: float | None = 10.0) -> None:
    now = timezone.now()
    CostReport.objects.bulk_create(
        CostReport(
            created_at=now - dt.timedelta(hours=6 * i),
            actor="schedule",
            currency="EUR",
            storage_bytes=0,
            storage_monthly_usd=0,
            compute_hours=0,
            compute_monthly_usd=0,
            bandwidth_bytes=0,
            bandwidth_monthly_usd=0,
            total_monthly_usd=8.5 - i * 0.01,
            budget_usd=budget,
            percent_used=None if budget is None else (8.5 - i * 0.01) / budget * 100,
            payload={},
        )
        for i in range(n)
    )


def failed_tasks(n: int) -> None:
    from django_q.models import Task

    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            id=uuid.uuid4().hex,
            name=f"task-{i}",
            func="support.tasks.digest",
            started=now,
            stopped=now - dt.timedelta(minutes=i),
            success=False,
            result=f"Traceback...\nValueError: failure number {i}",
        )
        for i in range(n)
    )


def world(size: int, tag: str = "") -> dict:
    """Fill every table the overview reads; `size` scales the row counts."""
    from echopilot import schedules

    schedules.sync()
    flags(max(20, size), changes=size * 4, tag=tag)
    experiments(3, users=size, skew=True, tag=tag)
    incident = incidents(size, active=not Incident.objects.filter(active=True).exists())
    digest = digests(size, tag=tag)
    cost_reports(size)
    failed_tasks(max(8, size // 10))
    return {"incident": incident, "digest": digest}
