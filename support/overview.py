"""The overview's Support card: the last digest and its urgent subjects."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from support import selectors

URGENT_SHOWN = 5


def card(request: HttpRequest) -> dict[str, Any]:
    """Return the Support card (at most 2 queries)."""
    digest = selectors.latest_digest()
    if digest is None:
        return {"digest": None, "changelist": reverse("admin:support_digest_changelist")}
    urgent = selectors.digest_items(digest, urgent_only=True, limit=URGENT_SHOWN)
    return {
        "digest": digest,
        "url": reverse("admin:support_digest_change", args=[digest.pk]),
        "changelist": reverse("admin:support_digest_changelist"),
        "urgent": urgent,
        "more_urgent": max(0, digest.urgent_count - len(urgent)),
    }
