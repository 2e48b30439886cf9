"""Turn the raw header block of a message into the fields a digest shows.

Pure functions, no IMAP and no database: tests feed them bytes. Nothing here
raises on bad input; a header that cannot be decoded is shown as it came.
"""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import parseaddr, parsedate_to_datetime

# A Message-ID longer than this is replaced by its hash as the storage key.
MAX_KEY_LENGTH = 250
SYNTHETIC_DOMAIN = "synthetic.echopilot.invalid"

# Folding: a line break followed by white space continues the previous line.
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_HEADER = re.compile(r"^([!-9;-~]+)[ \t]*:(.*)$")


@dataclass(frozen=True)
class Headers:
    """The decoded fields of one message."""

    from_address: str
    from_name: str
    subject: str
    date: dt.datetime | None
    message_id: str  # as the message has it ("" when missing)
    key: str  # what the message is stored under: the Message-ID or a synthetic id
    synthetic: bool


def split_headers(raw: bytes) -> dict[str, str]:
    """Return the first value of each header in `raw`, names lower-cased, unfolded."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # 8-bit headers that are not UTF-8 are almost always Latin-1.
        text = raw.decode("latin-1")
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
        # decode_header returns the plain parts encoded this way.
        return chunk.decode("raw-unicode-escape", errors="replace")
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    try:
        return chunk.decode(charset, errors="replace")
    except LookupError:
        return chunk.decode("utf-8", errors="replace")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (any charset, mixed with plain text)."""
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except (HeaderParseError, ValueError, LookupError):
        return value
    text = " ".join("".join(_decode_chunk(c, charset) for c, charset in parts).split())
    # An encoded word that decodes to nothing (bad base64) is shown as it came.
    return text or value


def parse_from(value: str) -> tuple[str, str]:
    """Return (address, display name) of a From header; the address may be ""."""
    name, address = parseaddr(value)
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


def synthetic_key(fields: dict[str, str]) -> str:
    """Return a stable id for a message without a usable Message-ID."""
    basis = "\n".join(
        f"{name}:{fields.get(name, '')}" for name in ("from", "subject", "date", "message-id")
    )
    digest = hashlib.sha256(basis.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
    return f"<{digest}@{SYNTHETIC_DOMAIN}>"


def parse_headers(raw: bytes) -> Headers:
    """Decode From, Subject, Date and Message-ID from a raw header block."""
    fields = split_headers(raw)
    address, name = parse_from(fields.get("from", ""))
    message_id = "".join(fields.get("message-id", "").split())
    usable = bool(message_id) and len(message_id) <= MAX_KEY_LENGTH
    return Headers(
        from_address=address,
        from_name=name,
        subject=decode_words(fields.get("subject", "")),
        date=parse_date(fields.get("date", "")),
        message_id=message_id,
        key=message_id if usable else synthetic_key(fields),
        synthetic=not usable,
    )
