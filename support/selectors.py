"""Reads of the digest history for the admin: a digest's items, real or dry-run samples."""

from typing import Any

from django.utils.dateparse import parse_datetime

from support.models import Digest, DigestItem


def _sample_items(digest: Digest) -> list[dict[str, Any]]:
    """Return the samples a dry-run digest listed (they are never stored as rows)."""
    from support.services import SAMPLES, is_urgent, urgent_pattern

    pattern = urgent_pattern()
    samples = SAMPLES[: digest.count]
    return [
        {
            "position": i,
            "subject": s["subject"],
            "from": s["from"],
            "from_name": s["from_name"],
            "date": parse_datetime(s["date"]),
            "new": False,
            "urgent": is_urgent(s["subject"], pattern),
            "sample": True,
            "message_pk": None,
        }
        for i, s in enumerate(samples)
    ]


def digest_items(
    digest: Digest, *, urgent_only: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """Return the messages `digest` listed, in its order (one query; none for a dry run).

    A dry run's items are its labelled samples (`sample: True`), with urgency
    judged by today's keywords.
    """
    if digest.dry_run:
        items = _sample_items(digest)
        items = [i for i in items if i["urgent"]] if urgent_only else items
        return items[:limit]
    rows = DigestItem.objects.filter(digest=digest).select_related("message").order_by("position")
    if urgent_only:
        rows = rows.filter(urgent=True)
    return [
        {
            "position": row.position,
            "subject": row.message.subject,
            "from": row.message.from_address,
            "from_name": row.message.from_name,
            "date": row.message.date,
            "new": row.new,
            "urgent": row.urgent,
            "sample": False,
            "message_pk": row.message_id,
        }
        for row in rows[:limit]
    ]


def latest_digest() -> Digest | None:
    """Return the most recent digest, successful or not."""
    return Digest.objects.order_by("-created_at", "-id").first()
