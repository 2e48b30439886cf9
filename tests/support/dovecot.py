"""A throwaway Dovecot IMAP server on loopback, for tests and the benchmark.

    server = DovecotServer.start(user="support@example.com", password="secret")
    server.reset()
    server.deliver([make_message(subject="Help")], seen=False)
    ...
    server.stop()

Everything lives in one temporary folder (config, Maildir, logs). Dovecot runs
in the foreground as a child of this process (the master as root, mail as
the `dovecot` user), so `stop()` ends exactly the process it started.
"""

import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.processes import free_port

CONFIG = """\
base_dir = {tmp}/run
state_dir = {tmp}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
log_path = {tmp}/log/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={tmp}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
  # Tests log in with wrong passwords on purpose: no growing auth penalty.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

_counter = itertools.count(1)


def make_message(
    *,
    subject: str | None = "Need help with API",
    sender: str | None = "customer@example.com",
    date: str | None = "Mon, 20 Oct 2025 17:00:00 +0000",
    message_id: str | None = None,
    extra_headers: str = "",
    body: str = "Hello,\r\nplease help.\r\n",
) -> bytes:
    """Return an RFC 5322 message (CRLF); a None header is left out."""
    n = next(_counter)
    if message_id is None:
        message_id = f"<msg-{n}-{os.getpid()}@example.com>"
    lines = []
    if sender is not None:
        lines.append(f"From: {sender}")
    lines.append("To: support@example.com")
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if date is not None:
        lines.append(f"Date: {date}")
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    head = "\r\n".join(lines) + "\r\n" + extra_headers
    return (head + "\r\n" + body).encode("utf-8")


class DovecotServer:
    def __init__(self, tmp: Path, port: int, user: str, password: str, proc):
        self.tmp = tmp
        self.host = "127.0.0.1"
        self.port = port
        self.user = user
        self.password = password
        self.proc = proc
        self._uid = pwd.getpwnam("dovecot")
        self._seq = 0

    @classmethod
    def start(
        cls, *, user: str = "support@example.com", password: str = "s3cret-Pa55word"
    ) -> "DovecotServer":
        """Start Dovecot on a free loopback port; raise if it is missing or fails."""
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.path.exists(binary):
            raise RuntimeError(
                "Dovecot is not installed: apt-get install -y dovecot-imapd (.ci/run installs it)."
            )
        tmp = Path(tempfile.mkdtemp(prefix="echopilot-dovecot-"))
        tmp.chmod(0o755)  # the mail user must traverse it
        for sub in ("run", "state", "log", "mail"):
            (tmp / sub).mkdir()
        (tmp / "passwd").write_text(f"{user}:{{PLAIN}}{password}:::::\n", encoding="utf-8")
        port = free_port()
        conf = tmp / "dovecot.conf"
        conf.write_text(CONFIG.format(tmp=tmp, port=port))
        proc = subprocess.Popen(
            [binary, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "log" / "stderr.log", "wb"),
        )
        server = cls(tmp, port, user, password, proc)
        try:
            server._wait_ready()
            server.reset()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}: {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    s.settimeout(2)
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.tmp / "log" / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    @property
    def maildir(self) -> Path:
        return self.tmp / "mail" / self.user / "Maildir"

    def _chown(self, path: Path) -> None:
        os.chown(path, self._uid.pw_uid, self._uid.pw_gid)

    def reset(self) -> None:
        """Empty the mailbox (a new Maildir, so UIDs start again at 1)."""
        home = self.tmp / "mail" / self.user
        shutil.rmtree(home, ignore_errors=True)
        for path in (home, self.maildir, *(self.maildir / d for d in ("new", "cur", "tmp"))):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)

    def deliver(self, messages: list[bytes], *, seen: bool = False) -> None:
        """Drop messages into the Maildir in order (later ones get higher UIDs).

        Dovecot gives new files UIDs in the order of the time stamp that
        starts their names, so the names count up.
        """
        base = int(time.time())
        for raw in messages:
            self._seq += 1
            name = f"{base}.M{self._seq:07d}P{os.getpid()}.echopilot"
            folder = "cur" if seen else "new"
            if seen:
                name += ":2,S"
            path = self.maildir / folder / name
            path.write_bytes(raw)
            self._chown(path)

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, messages: list[bytes], *, mailbox: str = "INBOX") -> None:
        """Add messages over IMAP (APPEND), unread, in order."""
        conn = self.connect()
        try:
            for raw in messages:
                status, data = conn.append(mailbox, None, None, raw)
                if status != "OK":
                    raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            conn.logout()

    def flags(self, mailbox: str = "INBOX") -> dict[int, str]:
        """Return UID -> FLAGS text of every message, read-only."""
        conn = self.connect()
        try:
            conn.select(mailbox, readonly=True)
            status, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            found = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    text = line.decode()
                    uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                    found[uid] = text.split("FLAGS (", 1)[1].split(")", 1)[0]
            return found
        finally:
            conn.logout()

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)
