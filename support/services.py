"""The support digest: one operation, called by the API, the command and the schedule."""

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from echopilot import metrics, mirror
from echopilot.exceptions import Invalid
from echopilot.secrets import redact
from support import imap
from support.headers import Headers, parse_headers, synthetic_key
from support.models import DEFAULT_LIMIT, MAX_LIMIT, Digest, DigestItem, ErrorCode, Message

logger = logging.getLogger("support")

STREAM = "support_digest"
LATEST = "support_digest.json"

# Shown when no mailbox is configured (or a dry run is forced); never stored.
SAMPLES = [
    {
        "from": "customer@example.com",
        "from_name": "Sample Customer",
        "subject": "Need help with API",
        "date": "2025-10-20T17:00:00Z",
        "message_id": "<sample-1@dry-run.invalid>",
    },
    {
        "from": "ops@example.org",
        "from_name": "Sample Ops",
        "subject": "Dashboard down since 09:00",
        "date": "2025-10-20T09:12:00Z",
        "message_id": "<sample-2@dry-run.invalid>",
    },
    {
        "from": "billing@example.net",
        "from_name": "",
        "subject": "Refund for invoice 1042",
        "date": "2025-10-19T15:30:00Z",
        "message_id": "<sample-3@dry-run.invalid>",
    },
]
DRY_RUN_NOTE = "Dry run: sample messages, not read from a mailbox and not stored."
# Shown for a message whose headers could not be parsed at all.
UNDECODABLE_SUBJECT = "(undecodable subject)"

# Keyword endings that still count as the keyword: refunds, cancelled, outages.
_SUFFIXES = r"(?:s|es|d|ed|ing|led|ling|ation|lation)?"


@dataclass
class DigestResult:
    """What a digest returns to every interface (rendered as JSON as is)."""

    ok: bool
    dry_run: bool
    digest_id: int | None
    items: list[dict[str, Any]] = field(default_factory=list)
    unseen: int | None = None
    error: str = ""
    detail: str = ""
    mailbox: str = ""
    generated_at: str = ""
    dry_run_reason: str = ""

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def new_count(self) -> int:
        return sum(1 for item in self.items if item.get("new"))

    @property
    def urgent_count(self) -> int:
        return sum(1 for item in self.items if item.get("urgent"))

    def to_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {
                "ok": False,
                "error": self.error,
                "detail": self.detail,
                "digest_id": self.digest_id,
                "dry_run": False,
                "mailbox": self.mailbox,
                "generated_at": self.generated_at,
            }
        body: dict[str, Any] = {
            "ok": True,
            "count": self.count,
            "dry_run": self.dry_run,
            "items": self.items,
            "new_count": self.new_count,
            "urgent_count": self.urgent_count,
            "unseen": self.unseen,
            "mailbox": self.mailbox,
            "digest_id": self.digest_id,
            "generated_at": self.generated_at,
        }
        if self.dry_run:
            body["note"] = DRY_RUN_NOTE
            body["dry_run_reason"] = self.dry_run_reason
        return body


def imap_config() -> imap.ImapConfig | None:
    """Return the configured mailbox, or None when host, user or password is missing."""
    if not (settings.IMAP_HOST and settings.IMAP_USER and settings.IMAP_PASS):
        return None
    return imap.ImapConfig(
        host=settings.IMAP_HOST,
        port=int(settings.IMAP_PORT or 0),
        user=settings.IMAP_USER,
        password=settings.IMAP_PASS,
        use_ssl=bool(settings.IMAP_SSL),
        mailbox=settings.IMAP_MAILBOX or "INBOX",
        timeout=float(settings.IMAP_TIMEOUT),
    )


def urgent_pattern() -> re.Pattern[str] | None:
    """Compile `SUPPORT_URGENT_KEYWORDS` into one case-insensitive whole-word pattern."""
    words = [w.strip() for w in settings.SUPPORT_URGENT_KEYWORDS or [] if w and w.strip()]
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives}){_SUFFIXES}(?!\w)", re.IGNORECASE)


def is_urgent(subject: str, pattern: re.Pattern[str] | None) -> bool:
    return bool(pattern and pattern.search(subject))


def _item(headers: Headers, *, new: bool, urgent: bool) -> dict[str, Any]:
    return {
        "from": headers.from_address,
        "from_name": headers.from_name,
        "subject": headers.subject,
        "date": mirror.now_iso(headers.date) if headers.date else None,
        "message_id": headers.key,
        "new": new,
        "urgent": urgent,
    }


def _line(result: DigestResult, actor: str) -> dict[str, Any]:
    return {"type": "digest", "ts_iso": result.generated_at, "actor": actor, **result.to_dict()}


def _publish(result: DigestResult, actor: str) -> None:
    """Mirror the digest to NDJSON and the latest file once the transaction commits."""
    body = result.to_dict()
    mirror.append(STREAM, _line(result, actor))
    metrics.digest_reported(new=result.new_count, urgent=result.urgent_count)
    transaction.on_commit(lambda: mirror.write_latest(LATEST, body), robust=True)


class DigestCrashed(Exception):
    """A digest failed unexpectedly; it is stored with `error="internal"` as `result`."""

    def __init__(self, result: DigestResult) -> None:
        self.result = result
        super().__init__(f"support digest {result.digest_id} crashed: {result.detail}")


def _store_failure(
    *, code: str, detail: str, mailbox: str, limit: int, actor: str, started: float
) -> DigestResult:
    """Store a failed digest in its own transaction; the caller mirrors it."""
    now = timezone.now()
    detail = redact(detail)
    with transaction.atomic():
        digest = Digest.objects.create(
            created_at=now,
            actor=actor,
            ok=False,
            error=code,
            detail=detail,
            mailbox=mailbox,
            limit=limit,
            duration_ms=_elapsed_ms(started),
        )
    logger.warning("support digest failed: %s: %s", code, detail)
    return DigestResult(
        ok=False,
        dry_run=False,
        digest_id=digest.pk,
        error=code,
        detail=detail,
        mailbox=mailbox,
        generated_at=mirror.now_iso(now),
    )


def _record_crash(
    *, actor: str, error: BaseException, limit: int, started: float
) -> DigestResult | None:
    """Store and mirror a digest that failed unexpectedly; None if even that fails.

    The detail names only the exception type: its text may quote configuration
    or connection strings, so the traceback stays in the (redacted) log. The
    line is mirrored at once: the caller's transaction may still roll back.
    """
    detail = f"Unexpected {type(error).__name__} while running the digest; see the worker log."
    try:
        result = _store_failure(
            code=ErrorCode.INTERNAL,
            detail=detail,
            mailbox=str(settings.IMAP_MAILBOX or "INBOX")[:255],
            limit=limit,
            actor=actor,
            started=started,
        )
    except Exception:
        logger.exception("support digest crash could not be recorded")
        return None
    try:
        mirror.write_now(STREAM, _line(result, actor))
        mirror.write_latest(LATEST, result.to_dict())
    except Exception:
        logger.exception("support digest crash %s could not be mirrored", result.digest_id)
    return result


def _store_dry_run(*, limit: int, actor: str, reason: str, started: float) -> DigestResult:
    pattern = urgent_pattern()
    items = [
        {**sample, "new": False, "urgent": is_urgent(sample["subject"], pattern), "sample": True}
        for sample in SAMPLES[:limit]
    ]
    now = timezone.now()
    mailbox = settings.IMAP_MAILBOX or "INBOX"
    with transaction.atomic():
        digest = Digest.objects.create(
            created_at=now,
            actor=actor,
            ok=True,
            dry_run=True,
            mailbox=mailbox,
            limit=limit,
            count=len(items),
            urgent_count=sum(1 for i in items if i["urgent"]),
            duration_ms=_elapsed_ms(started),
        )
        result = DigestResult(
            ok=True,
            dry_run=True,
            digest_id=digest.pk,
            items=items,
            mailbox=mailbox,
            generated_at=mirror.now_iso(now),
            dry_run_reason=reason,
        )
        _publish(result, actor)
    return result


def _parse(raw: bytes, *, uid: int, uidvalidity: int | None) -> Headers:
    """Parse one message's headers; one that cannot be parsed gets safe placeholders."""
    try:
        return parse_headers(raw, uidvalidity=uidvalidity, uid=uid)
    except Exception:
        logger.warning("support message UID %s: headers could not be parsed", uid, exc_info=True)
    return Headers(
        from_address="",
        from_name="",
        subject=UNDECODABLE_SUBJECT,
        date=None,
        message_id="",
        # Stable while the message stays in this mailbox, distinct from any other.
        key=synthetic_key({}, uidvalidity=uidvalidity, uid=uid),
        synthetic=True,
    )


# One listed message: its UID, its decoded headers, whether it is urgent.
Listed = tuple[int, Headers, bool]


def _listed(fetched: imap.Fetched) -> list[Listed]:
    """Parse the fetched headers, newest first; a message delivered twice is listed once."""
    pattern = urgent_pattern()
    listed: list[Listed] = []
    keys_seen: set[str] = set()
    for uid, raw in fetched.headers:
        headers = _parse(raw, uid=uid, uidvalidity=fetched.uidvalidity)
        # The same message delivered twice (same Message-ID) is listed once: the newest.
        if headers.key in keys_seen:
            continue
        keys_seen.add(headers.key)
        listed.append((uid, headers, is_urgent(headers.subject, pattern)))
    return listed


def _new_message(headers: Headers, *, urgent: bool, now: dt.datetime, digest: Digest) -> Message:
    return Message(
        key=headers.key,
        message_id=headers.message_id,
        synthetic=headers.synthetic,
        from_address=headers.from_address[:320],
        from_name=headers.from_name[:255],
        subject=headers.subject,
        date=headers.date,
        urgent=urgent,
        first_seen=now,
        last_seen=now,
        seen_count=1,
        first_digest=digest,
    )


def _record_items(digest: Digest, listed: list[Listed], now: dt.datetime) -> list[dict[str, Any]]:
    """Store or update each listed message and its place in `digest`; return the items.

    Runs inside the digest's transaction: locking the known rows makes a
    concurrent digest wait, so each message is announced as new by exactly one.
    """
    keys = {headers.key for _, headers, _ in listed}
    existing = {m.key: m for m in Message.objects.select_for_update().filter(key__in=keys)}
    created: list[Message] = []
    updated: list[Message] = []
    items: list[dict[str, Any]] = []
    entries: list[tuple[Message, int, int, bool, bool]] = []
    for position, (uid, headers, urgent) in enumerate(listed):
        message = existing.get(headers.key)
        new = message is None
        if message is None:
            message = _new_message(headers, urgent=urgent, now=now, digest=digest)
            created.append(message)
        else:
            message.last_seen = now
            message.seen_count += 1
            message.urgent = urgent
            updated.append(message)
        items.append(_item(headers, new=new, urgent=urgent))
        entries.append((message, position, uid, new, urgent))
    Message.objects.bulk_create(created)
    if updated:
        Message.objects.bulk_update(updated, ["last_seen", "seen_count", "urgent"])
    # Built after bulk_create, so the new messages have their primary keys.
    DigestItem.objects.bulk_create(
        DigestItem(digest=digest, message=m, position=p, uid=u, new=n, urgent=g)
        for m, p, u, n, g in entries
    )
    return items


def _store_messages(
    *, fetched: imap.Fetched, config: imap.ImapConfig, limit: int, actor: str, started: float
) -> DigestResult:
    """Record the digest and its messages in one transaction; decide what is new."""
    listed = _listed(fetched)
    now = timezone.now()
    with transaction.atomic():
        digest = Digest.objects.create(
            created_at=now,
            actor=actor,
            ok=True,
            mailbox=config.mailbox,
            limit=limit,
            unseen=fetched.unseen,
            uidvalidity=fetched.uidvalidity,
        )
        result = DigestResult(
            ok=True,
            dry_run=False,
            digest_id=digest.pk,
            items=_record_items(digest, listed, now),
            unseen=fetched.unseen,
            mailbox=config.mailbox,
            generated_at=mirror.now_iso(now),
        )
        digest.count = result.count
        digest.new_count = result.new_count
        digest.urgent_count = result.urgent_count
        digest.duration_ms = _elapsed_ms(started)
        digest.save(update_fields=["count", "new_count", "urgent_count", "duration_ms"])
        _publish(result, actor)
    return result


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def run_digest(*, actor: str, limit: int = DEFAULT_LIMIT, dry_run: bool = False) -> DigestResult:
    """Read the newest unread support mail, record it, and return the digest.

    IMAP failures are returned as a stored digest with `ok=False`, not raised.
    Without credentials (or with `dry_run`) the digest lists labelled samples.
    A `limit` outside 1..MAX_LIMIT raises `Invalid` before anything is read
    or stored. Any other exception is a bug: it is stored as a failed digest
    (`error="internal"`) and raised as `DigestCrashed`.
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be an integer from 1 to {MAX_LIMIT}")
    started = time.monotonic()
    try:
        return _run(actor=actor, limit=limit, dry_run=dry_run, started=started)
    except Exception as exc:
        result = _record_crash(actor=actor, error=exc, limit=limit, started=started)
        if result is None:
            raise
        raise DigestCrashed(result) from exc


def _run(*, actor: str, limit: int, dry_run: bool, started: float) -> DigestResult:
    config = imap_config()
    if dry_run or config is None:
        reason = "forced" if dry_run else "no_credentials"
        return _store_dry_run(limit=limit, actor=actor, reason=reason, started=started)
    try:
        fetched = imap.fetch_unseen(config, limit)
    except imap.ImapFailure as failure:
        result = _store_failure(
            code=failure.code,
            detail=failure.detail,
            mailbox=config.mailbox,
            limit=limit,
            actor=actor,
            started=started,
        )
        _publish(result, actor)
        return result
    # Two digests racing on PostgreSQL can both insert the same new message;
    # the loser retries once and then sees it as already announced.
    for attempt in range(2):
        try:
            return _store_messages(
                fetched=fetched, config=config, limit=limit, actor=actor, started=started
            )
        except IntegrityError:
            if attempt:
                raise
            logger.info("support digest raced another digest; retrying once")
    raise AssertionError("unreachable")
