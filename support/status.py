"""The support app's status probe: the last digest that read the mailbox."""

from django.conf import settings

from echopilot.status import OFF, OK, Component, since


def probe_imap() -> Component:
    """Ok when the last real digest read the mailbox; failing when it could not."""
    from support.models import Digest

    if not (settings.IMAP_HOST and settings.IMAP_USER and settings.IMAP_PASS):
        return Component(OFF, "IMAP is not configured: digests are dry runs")
    last = Digest.objects.filter(dry_run=False).order_by("-id").first()
    if last is None:
        return Component(OFF, "no digest has read the mailbox yet")
    data = {"last_digest_id": last.id, "last_run_iso": since(last.created_at)}
    if last.ok:
        return Component(OK, "", data)
    return Component("failing", f"{last.error}: {last.detail}"[:300], data)
