"""Read the newest unread messages from an IMAP mailbox without changing it.

The mailbox is opened with EXAMINE (read-only), searched with `UID SEARCH
UNSEEN`, and only the four headers the digest shows are fetched with
`BODY.PEEK[...]`, so no flag is ever set and nothing is moved or deleted.
Every failure becomes an `ImapFailure` with one of the codes below and a
detail that never contains the password.
"""

import imaplib
import re
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from echopilot.secrets import redact

CONNECT = "imap_connect"
AUTH = "imap_auth"
TIMEOUT = "imap_timeout"
MAILBOX = "imap_mailbox"

HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)]"
_UID = re.compile(rb"\bUID (\d+)")


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    use_ssl: bool
    mailbox: str
    timeout: float

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.use_ssl else 143)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.effective_port}"


@dataclass(frozen=True)
class Fetched:
    """What one read of the mailbox found."""

    unseen: int  # unread messages in the mailbox
    uidvalidity: int | None
    headers: list[tuple[int, bytes]]  # (UID, raw header block), newest first


class ImapFailure(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _clean(config: ImapConfig, text: str) -> str:
    """Mask the password (configured or not) and any other known secret."""
    if config.password:
        text = text.replace(config.password, "***")
    return redact(text)


def _text(value: object) -> str:
    """Render a server answer (bytes, str, or a list/tuple of them) as one line."""
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if v is not None)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def quote_mailbox(name: str) -> str:
    """Quote a mailbox name for a command (imaplib sends arguments as they are)."""
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Deadline:
    """The deadline of one whole read of the mailbox, from connect to the last header.

    The socket timeout bounds each wait; a server that trickles bytes could
    still stretch a read (or the greeting and CAPABILITY exchange inside
    imaplib's constructor) past it. So a timer shuts the socket down when the
    deadline passes, which wakes the blocked read at once.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()
        return sock

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


class _IMAP4(imaplib.IMAP4):
    def __init__(self, host: str, port: int, *, timeout: float, deadline: _Deadline) -> None:
        self._deadline = deadline
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._deadline.watch(super()._create_socket(timeout))


class _IMAP4_SSL(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, *, timeout: float, deadline: _Deadline) -> None:
        self._deadline = deadline
        context = ssl.create_default_context()
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._deadline.watch(super()._create_socket(timeout))


def _connect(config: ImapConfig, deadline: _Deadline) -> imaplib.IMAP4:
    kind = _IMAP4_SSL if config.use_ssl else _IMAP4
    return kind(config.host, config.effective_port, timeout=config.timeout, deadline=deadline)


def _login(conn: imaplib.IMAP4, config: ImapConfig) -> None:
    try:
        conn.login(config.user, config.password)
    except UnicodeEncodeError:
        # LOGIN is ASCII-only; AUTHENTICATE PLAIN carries UTF-8 credentials.
        secret = f"\0{config.user}\0{config.password}".encode()
        conn.authenticate("PLAIN", lambda _challenge: secret)


def _parse_fetch(data: Sequence[object]) -> dict[int, bytes]:
    """Map UID -> header bytes from a FETCH response."""
    found: dict[int, bytes] = {}
    for part in data:
        if isinstance(part, tuple) and len(part) >= 2:
            match = _UID.search(part[0])
            if match:
                found[int(match.group(1))] = part[1] or b""
    return found


@dataclass
class _Progress:
    """How far one read of the mailbox got: for the failure detail and the goodbye."""

    stage: str = "connect"
    healthy: bool = True  # False once the connection is unusable: no polite LOGOUT then


def fetch_unseen(config: ImapConfig, limit: int) -> Fetched:
    """Return the headers of the `limit` newest unread messages (highest UID first).

    `config.timeout` is the deadline of the whole read, from connect to the last header.
    """
    conn = None
    progress = _Progress()
    deadline = _Deadline(config.timeout)
    try:
        conn = _connect(config, deadline)
        progress.stage = "login"
        _login(conn, config)
        return _read(conn, config, limit, progress)
    except ImapFailure as exc:
        raise ImapFailure(exc.code, _clean(config, exc.detail)) from None
    except (imaplib.IMAP4.error, OSError, ValueError, UnicodeError) as exc:
        # OSError covers TimeoutError and ssl.SSLError; _failure tells them apart.
        raise _failure(exc, config, progress, deadline.expired) from exc
    finally:
        deadline.cancel()
        if conn is not None:
            try:
                conn.logout() if progress.healthy else conn.shutdown()
            except (OSError, imaplib.IMAP4.error, ValueError):
                pass


def _read(conn: imaplib.IMAP4, config: ImapConfig, limit: int, progress: _Progress) -> Fetched:
    """Open the mailbox read-only, find the unread UIDs, fetch the newest `limit` headers."""
    progress.stage = "mailbox"
    status, data = conn.select(quote_mailbox(config.mailbox), readonly=True)
    if status != "OK":
        raise ImapFailure(MAILBOX, f"Mailbox {config.mailbox!r} cannot be opened: {_text(data)}")
    uidvalidity = conn.response("UIDVALIDITY")[1]
    progress.stage = "search"
    status, data = conn.uid("SEARCH", "UNSEEN")
    if status != "OK":
        raise ImapFailure(CONNECT, f"UID SEARCH UNSEEN failed: {_text(data)}")
    uids = sorted({int(u) for u in b" ".join(d for d in data if d).split()})
    wanted = uids[::-1][:limit]
    headers: list[tuple[int, bytes]] = []
    if wanted:
        progress.stage = "fetch"
        message_set = ",".join(str(u) for u in sorted(wanted))
        status, data = conn.uid("FETCH", message_set, f"(UID {HEADER_FIELDS})")
        if status != "OK":
            raise ImapFailure(CONNECT, f"UID FETCH failed: {_text(data)}")
        by_uid = _parse_fetch(data)
        # A message expunged between SEARCH and FETCH is simply absent.
        headers = [(uid, by_uid[uid]) for uid in wanted if uid in by_uid]
    return Fetched(
        unseen=len(uids),
        uidvalidity=int(uidvalidity[0]) if uidvalidity and uidvalidity[0] else None,
        headers=headers,
    )


def _failure(
    exc: Exception, config: ImapConfig, progress: _Progress, expired: bool = False
) -> ImapFailure:
    """Turn what went wrong during `progress.stage` into an `ImapFailure` without secrets."""
    stage = progress.stage
    if isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort):
        # The server answered NO or BAD: the connection itself is still fine.
        if stage == "login":
            code = AUTH
            detail = f"Login as {config.user!r} on {config.where} refused: {_text(exc.args)}"
        elif stage == "mailbox":
            code = MAILBOX
            detail = f"Mailbox {config.mailbox!r} cannot be opened: {_text(exc.args)}"
        else:
            code, detail = CONNECT, f"{config.where} refused {stage}: {_text(exc.args)}"
        return ImapFailure(code, _clean(config, detail))
    progress.healthy = False
    code = CONNECT
    if isinstance(exc, TimeoutError) or expired:
        code = TIMEOUT
        detail = f"No answer from {config.where} within {config.timeout:g}s (during {stage})."
    elif isinstance(exc, ssl.SSLError):
        detail = f"TLS with {config.where} failed: {exc.reason or exc}"
    elif isinstance(exc, imaplib.IMAP4.abort):
        detail = f"{config.where} closed the connection (during {stage}): {_text(exc.args)}"
    else:
        detail = f"Cannot reach {config.where} (during {stage}): {exc}"
    return ImapFailure(code, _clean(config, detail))
