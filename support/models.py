"""The digest history: one row per digest run, one per message, one per appearance."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from echopilot.text import console_date

# How many messages one digest lists: the one definition the API, the command,
# the service and this table's constraint use (the migration spells out 100).
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ErrorCode(models.TextChoices):
    IMAP_CONNECT = "imap_connect", "Cannot connect (refused, DNS, TLS, protocol)"
    IMAP_AUTH = "imap_auth", "Login refused"
    IMAP_TIMEOUT = "imap_timeout", "Server did not answer in time"
    IMAP_MAILBOX = "imap_mailbox", "Mailbox missing or not readable"
    INTERNAL = "internal", "Unexpected error in the digest (see the worker log)"


class Digest(models.Model):
    """One run of the support digest, successful or not."""

    created_at = models.DateTimeField(
        default=timezone.now, db_index=True, help_text="When the digest ran (UTC)."
    )
    actor = models.CharField(
        max_length=100, help_text='Who ran it: "api:<key label>", "cli", "schedule", "admin:…".'
    )
    ok = models.BooleanField(help_text="False when the mailbox could not be read.")
    dry_run = models.BooleanField(
        default=False,
        help_text="Sample data (no credentials, or forced); no message rows are stored.",
    )
    error = models.CharField(
        max_length=20,
        choices=ErrorCode.choices,
        blank=True,
        db_index=True,
        help_text="Machine code of the failure; empty when ok.",
    )
    detail = models.TextField(blank=True, help_text="Human text of the failure (no secrets).")
    mailbox = models.CharField(max_length=255, blank=True, help_text="The mailbox read.")
    limit = models.PositiveSmallIntegerField(help_text=f"Most messages asked for (1-{MAX_LIMIT}).")
    unseen = models.PositiveIntegerField(
        null=True, blank=True, help_text="Unread messages in the mailbox at the time."
    )
    uidvalidity = models.BigIntegerField(
        null=True, blank=True, help_text="The mailbox's UIDVALIDITY when read."
    )
    count = models.PositiveIntegerField(default=0, help_text="Messages listed.")
    new_count = models.PositiveIntegerField(
        default=0, help_text="Listed messages no earlier digest had listed."
    )
    urgent_count = models.PositiveIntegerField(
        default=0, help_text="Listed messages whose subject matched an urgent keyword."
    )
    duration_ms = models.PositiveIntegerField(
        default=0, help_text="Time spent reading the mailbox and storing, in ms."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        # The admin's "Run digest now" button (the console's Ops editors hold it).
        permissions = [("run_digest", "Can run the support digest from the admin")]
        indexes = [models.Index(fields=["ok", "dry_run", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ok=True, error="") | (Q(ok=False) & ~Q(error="")),
                name="support_digest_error_iff_failed",
            ),
            models.CheckConstraint(
                condition=Q(new_count__lte=F("count")) & Q(urgent_count__lte=F("count")),
                name="support_digest_counts_within_count",
            ),
            models.CheckConstraint(
                condition=Q(limit__gte=1, limit__lte=MAX_LIMIT),
                name="support_digest_limit_range",
            ),
        ]

    def __str__(self) -> str:
        when = console_date(self.created_at)
        if not self.ok:
            return f"Digest {when}: {self.error}"
        label = " (dry run)" if self.dry_run else ""
        return f"Digest {when}: {self.count} messages, {self.new_count} new{label}"


class Message(models.Model):
    """A support message, stored once however many digests list it."""

    key = models.CharField(
        max_length=255,
        unique=True,
        help_text="The Message-ID, or a synthetic id from a hash of the headers.",
    )
    message_id = models.TextField(
        blank=True, help_text="The Message-ID header as sent (may be empty)."
    )
    synthetic = models.BooleanField(
        default=False, help_text="True when the key is synthetic (no usable Message-ID)."
    )
    from_address = models.CharField(
        max_length=320, blank=True, db_index=True, help_text="Sender's address."
    )
    from_name = models.CharField(max_length=255, blank=True, help_text="Sender's display name.")
    subject = models.TextField(blank=True, help_text="Decoded subject.")
    date = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="The Date header in UTC; empty if invalid."
    )
    urgent = models.BooleanField(
        default=False, db_index=True, help_text="Subject matched an urgent keyword when last seen."
    )
    first_seen = models.DateTimeField(db_index=True, help_text="First digest that listed it.")
    last_seen = models.DateTimeField(db_index=True, help_text="Latest digest that listed it.")
    seen_count = models.PositiveIntegerField(default=1, help_text="How many digests listed it.")
    first_digest = models.ForeignKey(
        Digest,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The digest that announced it as new.",
    )
    digests = models.ManyToManyField(
        Digest, through="DigestItem", related_name="messages", help_text="Digests that listed it."
    )

    class Meta:
        ordering = ["-last_seen", "-id"]

    def __str__(self) -> str:
        return f"{self.from_address or self.from_name}: {self.subject[:60]}"


class DigestItem(models.Model):
    """One message listed in one digest, at its place in the list."""

    digest = models.ForeignKey(
        Digest, on_delete=models.CASCADE, related_name="entries", help_text="The digest."
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="entries", help_text="The message."
    )
    position = models.PositiveSmallIntegerField(help_text="0 is the newest.")
    uid = models.BigIntegerField(help_text="IMAP UID in the mailbox at the time.")
    new = models.BooleanField(help_text="First digest to list this message.")
    urgent = models.BooleanField(help_text="Urgent by the keywords at the time.")

    class Meta:
        ordering = ["digest", "position"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "message"], name="support_item_once"),
            models.UniqueConstraint(fields=["digest", "position"], name="support_item_position"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} of digest {self.digest_id}"
