"""What the support digest keeps: digests and the messages they listed, 180 days."""

from echopilot.retention import earliest, register
from support.models import Digest, Message

register(
    "digests",
    setting="RETENTION_DIGEST_DAYS",
    default_days=180,
    queryset=lambda cutoff: Digest.objects.filter(created_at__lt=cutoff),
    oldest=earliest(Digest, "created_at"),
    # Each digest takes its list (up to 100 items) with it: smaller batches.
    batch=100,
    description="digest runs and their lists, by when they ran",
)
register(
    "digest_messages",
    setting="RETENTION_DIGEST_DAYS",
    default_days=180,
    # A message no digest listed since the cutoff: every list it was on goes too.
    queryset=lambda cutoff: Message.objects.filter(last_seen__lt=cutoff),
    oldest=earliest(Message, "last_seen"),
    description="support messages, by the last digest that listed them",
)
