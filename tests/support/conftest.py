"""A real Dovecot IMAP server for the support tests (one per session)."""

import socket

import pytest

from tests.conftest import free_port
from tests.support.dovecot import DovecotServer


@pytest.fixture(scope="session")
def dovecot():
    """Start Dovecot on a free loopback port; fail loudly if it is not installed."""
    server = DovecotServer.start()  # raises, so every test using it errors
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot, settings):
    """An empty INBOX and the IMAP settings pointing at it."""
    dovecot.reset()
    settings.IMAP_HOST = dovecot.host
    settings.IMAP_PORT = dovecot.port
    settings.IMAP_USER = dovecot.user
    settings.IMAP_PASS = dovecot.password
    settings.IMAP_SSL = False
    settings.IMAP_MAILBOX = "INBOX"
    settings.IMAP_TIMEOUT = 10.0
    return dovecot


@pytest.fixture
def digest(django_capture_on_commit_callbacks):
    """Run the digest and its after-commit mirror writes (the test holds a transaction)."""
    from support.services import run_digest

    def run(**kwargs):
        kwargs.setdefault("actor", "cli")
        with django_capture_on_commit_callbacks(execute=True):
            return run_digest(**kwargs)

    return run


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening (connection refused)."""
    return free_port()


@pytest.fixture
def trickling_port():
    """An IMAP greeting, then one byte every 0.2 s forever: each read gets an answer in
    time, so only a deadline on the whole digest stops it."""
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        conns = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                conn.sendall(b"* OK IMAP4rev1 ready\r\n")
                conns.append(conn)
            except OSError:
                pass
            for conn in conns:
                try:
                    conn.sendall(b"*")
                except OSError:
                    pass
            time.sleep(0.2)
        for conn in conns:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()
