"""Turn the raw header block of a message into the fields a digest shows.

Pure functions, no IMAP and no database: tests feed them bytes. Nothing here
raises on bad input; a header that cannot be decoded is shown as it came.
Every value returned is safe to store: no NUL, no lone surrogate, no control
character but tab (PostgreSQL refuses NUL, SQLite's UTF-8 refuses surrogates).
"""

import codecs
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import parseaddr, parsedate_to_datetime

# A Message-ID longer than this is replaced by its hash as the storage key.
MAX_KEY_LENGTH = 250
# The msg-id form of RFC 5322 3.6.4, read leniently: "<left@right>" with no
# white space or angle brackets inside. Anything else ("<>", "not an id",
# "<no-at-sign>") is not an identity two messages can be told apart by, so it
# gets a synthetic key instead (support.services de-duplicates on the key).
_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")
SYNTHETIC_DOMAIN = "synthetic.echopilot.invalid"

# Folding: a line break followed by white space continues the previous line.
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_HEADER = re.compile(r"^([!-9;-~]+)[ \t]*:(.*)$")
# C0 controls except tab, and UTF-16 surrogates (never valid alone in a str).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\ud800-\udfff]")
# Python codecs that are not MIME charsets and would interpret backslash escapes.
_ESCAPE_CODECS = {"unicode-escape", "raw-unicode-escape"}


@dataclass(frozen=True)
class Headers:
    """The decoded fields of one message."""

    from_address: str
    from_name: str
    subject: str
    date: dt.datetime | None
    message_id: str  # as the message has it ("" when missing), usable or not
    key: str  # what the message is stored under: a well-formed Message-ID or a synthetic id
    synthetic: bool


def clean(text: str) -> str:
    """Remove NUL, other control characters but tab, and lone surrogates from `text`."""
    return _UNSAFE.sub("", text)


def _decode_8bit(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # 8-bit headers that are not UTF-8 are almost always Latin-1.
        return data.decode("latin-1")


def split_headers(raw: bytes) -> dict[str, str]:
    """Return the first value of each header in `raw`, names lower-cased, unfolded."""
    text = _decode_8bit(raw)
    fields: dict[str, str] = {}
    for line in _FOLD.sub("", text).splitlines():
        match = _HEADER.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), match.group(2).strip())
    return fields


def _decode_chunk(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:
        # Plain text between encoded words: the header's own 8-bit bytes (see
        # decode_words), never read as backslash escapes.
        return _decode_8bit(chunk)
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    try:
        if codecs.lookup(charset).name in _ESCAPE_CODECS:
            raise LookupError(charset)
        return chunk.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        # Unknown charset, a codec that supports no error handler (idna,
        # punycode on 8-bit bytes) or one that is not a charset at all.
        return chunk.decode("utf-8", errors="replace")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (any charset, mixed with plain text)."""
    if "=?" not in value:
        return value
    # decode_header returns the plain parts as `str.encode("raw-unicode-escape")`,
    # which only round-trips for code points below 256. Hand it the UTF-8 bytes
    # spelled as Latin-1 so the plain parts come back as exactly those bytes.
    spelled = value.encode("utf-8", errors="replace").decode("latin-1")
    try:
        parts = decode_header(spelled)
    except (HeaderParseError, ValueError, LookupError):
        return value
    if len(parts) == 1 and isinstance(parts[0][0], str):
        return value  # no encoded word after all

    text = " ".join("".join(_decode_chunk(c, charset) for c, charset in parts).split())
    # An encoded word that decodes to nothing (bad base64) is shown as it came.
    return text or value


def parse_from(value: str) -> tuple[str, str]:
    """Return (address, display name) of a From header; the address may be ""."""
    name, address = parseaddr(value)
    address = clean(address)
    if not address and not name:
        return "", decode_words(value)
    if "@" not in address and not name:
        # Not an address at all (e.g. "Support Team"): keep it as the name.
        return "", decode_words(value)
    return address, decode_words(name).strip().strip('"')


def parse_date(value: str) -> dt.datetime | None:
    """Return the Date header as an aware UTC datetime, or None if it is not a date."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": the zone is unknown; RFC 5322 says treat as UTC
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def synthetic_key(
    fields: dict[str, str], *, uidvalidity: int | None = None, uid: int | None = None
) -> str:
    """Return a stable id for a message without a usable Message-ID.

    The mailbox's UIDVALIDITY and the message's UID are part of the hash, so
    two messages with the same headers stay two, while the same message keeps
    its id from one digest to the next.
    """
    basis = "\n".join(
        [
            *(
                f"{name}:{fields.get(name, '')}"
                for name in ("from", "subject", "date", "message-id")
            ),
            f"uidvalidity:{'' if uidvalidity is None else uidvalidity}",
            f"uid:{'' if uid is None else uid}",
        ]
    )
    digest = hashlib.sha256(basis.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
    return f"<{digest}@{SYNTHETIC_DOMAIN}>"


def parse_headers(raw: bytes, *, uidvalidity: int | None = None, uid: int | None = None) -> Headers:
    """Decode From, Subject, Date and Message-ID from a raw header block.

    `uidvalidity` and `uid` say where the message is; they only matter for the
    synthetic id of a message without a usable Message-ID.
    """
    fields = split_headers(raw)
    address, name = parse_from(fields.get("from", ""))
    message_id = clean("".join(fields.get("message-id", "").split()))
    usable = len(message_id) <= MAX_KEY_LENGTH and _MSG_ID.fullmatch(message_id) is not None
    return Headers(
        from_address=address,
        from_name=clean(name),
        subject=clean(decode_words(fields.get("subject", ""))),
        date=parse_date(fields.get("date", "")),
        message_id=message_id,
        key=message_id if usable else synthetic_key(fields, uidvalidity=uidvalidity, uid=uid),
        synthetic=not usable,
    )
