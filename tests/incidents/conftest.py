"""Incidents fixtures: a loopback Bot API stand-in, signal files, a movable clock,
and commits inside a test's transaction."""

import datetime as dt
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from echopilot.mirror import now_iso

BOT_TOKEN = "123456789:AAH-secret-bot-token-0123456789abcdef"
CHAT_ID = "-1001234567"
START = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


class ScriptedServer:
    """A loopback HTTP server on its own thread that answers from a script (default ok)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple] = []
        self.lock = threading.Lock()

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        """Start serving with `handler`; return the base URL."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, *actions: tuple) -> None:
        """Queue answers for the next requests: ("ok",), ("429", 1), ("500",), ("slow", 2)."""
        with self.lock:
            self.script.extend(actions)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeBotApi(ScriptedServer):
    """Records sendMessage requests and answers each from a script (default 200)."""

    def __init__(self):
        super().__init__()
        self.next_message_id = 100
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with api.lock:
                    action = api.script.pop(0) if api.script else ("ok",)
                    api.requests.append(
                        {
                            "path": self.path,
                            "body": json.loads(raw or b"{}"),
                            "at": time.monotonic(),
                            "answer": action[0],
                        }
                    )
                    api.next_message_id += 1
                    message_id = api.next_message_id
                kind = action[0]
                if kind == "slow":
                    time.sleep(action[1])
                    kind = "ok"
                if kind == "ok":
                    self._answer(200, {"ok": True, "result": {"message_id": message_id}})
                elif kind == "429":
                    self._answer(
                        429,
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": f"Too Many Requests: retry after {action[1]}",
                            "parameters": {"retry_after": action[1]},
                        },
                    )
                else:
                    self._answer(
                        int(kind), {"ok": False, "error_code": int(kind), "description": "Boom"}
                    )

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.base = self._serve(Handler)

    @property
    def texts(self) -> list[str]:
        return [r["body"]["text"] for r in self.requests]


@pytest.fixture
def bot(settings):
    """A running Bot API stand-in, with the app configured to use it."""
    api = FakeBotApi()
    settings.TELEGRAM_API_BASE = api.base
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_CHAT_ID = CHAT_ID
    settings.TELEGRAM_TIMEOUT = 2.0
    yield api
    api.close()


class Clock:
    def __init__(self, start: dt.datetime):
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current


@pytest.fixture
def clock(monkeypatch):
    """Freeze the app's clock at START; `clock.advance(minutes=...)` moves it."""
    from incidents import clock as app_clock

    fake = Clock(START)
    monkeypatch.setattr(app_clock, "now", fake)
    return fake


class Signals:
    """Write the scan's source files into the test's log dir."""

    def __init__(self, log_dir: Path, clock: Clock):
        self.dir = log_dir
        self.clock = clock
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, doc) -> Path:
        path = self.path(name)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def slo(self, p95=1500, success=0.96):
        return self.write("slo_report.json", {"p95_ms": p95, "success_rate": success})

    def payout(self, missing=2, mismatched=1):
        return self.write("payout_recon.json", {"missing": missing, "mismatched": mismatched})

    def alerts(self, *names, severity="critical"):
        active = [{"name": n, "severity": severity} for n in names]
        return self.write("production_alerts.json", {"active": active})

    def ops(self, *types, minutes_ago=1.0, level="warning"):
        when = self.clock() - dt.timedelta(minutes=minutes_ago)
        with self.path("ops_sentinel.ndjson").open("a") as fh:
            for t in types:
                fh.write(json.dumps({"ts_iso": now_iso(when), "level": level, "type": t}) + "\n")

    def healthy(self):
        self.slo(420, 0.999)
        self.payout(0, 0)
        self.alerts()
        self.path("ops_sentinel.ndjson").unlink(missing_ok=True)


@pytest.fixture
def signals(log_dir, clock) -> Signals:
    return Signals(log_dir, clock)


@pytest.fixture
def no_costs(monkeypatch):
    """The cost signal as the costs app reports it with no over-budget report."""
    import costs.selectors

    monkeypatch.setattr(costs.selectors, "latest_budget_status", lambda: None)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): …` ends like a commit: the block's on-commit callbacks (the
    NDJSON mirror's flush) run once and are then forgotten, as after a real commit.

    The test's own transaction stays open (plain `django_db`, no slow flush of the
    database). Forgetting matters: the mirror registers one flush per transaction
    and skips registering while one is pending, so a callback left in the list
    after the capture ran it would swallow the flush of every later block.
    """

    @contextmanager
    def block():
        start = len(connection.run_on_commit)
        try:
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                yield callbacks
        finally:
            del connection.run_on_commit[start:]

    return block


@pytest.fixture
def scan(committed):
    """Run one scan as the schedule does (or as `actor`), its transactions committed
    (NDJSON written)."""
    from incidents import services

    def run(actor="schedule"):
        with committed():
            return services.scan(actor=actor)

    return run


class Receiver(ScriptedServer):
    """A loopback HTTP receiver (Slack or a webhook) answering from a script (default 200).

    Answers: ("ok",), ("500",), ("302",) a redirect, ("429", seconds) with Retry-After,
    ("slow", seconds) then 200.
    """

    def __init__(self):
        super().__init__()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    action = receiver.script.pop(0) if receiver.script else ("ok",)
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "raw": raw,
                            "answer": action[0],
                            "at": time.monotonic(),
                        }
                    )
                kind = action[0]
                if kind == "slow":
                    time.sleep(action[1])
                    kind = "ok"
                headers = {}
                status = 200
                if kind == "429":
                    status, headers = 429, {"Retry-After": str(action[1])}
                elif kind == "302":
                    status, headers = 302, {"Location": "http://127.0.0.1:9/elsewhere"}
                elif kind != "ok":
                    status = int(kind)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.url = self._serve(Handler) + "/hook"

    @property
    def accepted(self) -> list[dict]:
        return [r for r in self.requests if r["answer"] in ("ok", "slow")]

    def json(self, n: int = -1) -> dict:
        return json.loads(self.requests[n]["raw"])


@pytest.fixture
def slack():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def hook():
    receiver = Receiver()
    yield receiver
    receiver.close()


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd); `messages` are parsed e-mails."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.raw: list[bytes] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                mailbox.raw.append(envelope.content)
                return "250 OK"

        from tests.processes import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self):
        from email import message_from_bytes
        from email.policy import default

        return [message_from_bytes(raw, policy=default) for raw in self.raw]

    def close(self):
        self.controller.stop()


@pytest.fixture
def smtp(settings):
    box = Mailbox()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = box.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield box
    box.close()


SLACK_URL_ENV = "TEST_SLACK_WEBHOOK_URL"
HOOK_URL_ENV = "TEST_OPS_WEBHOOK_URL"
HOOK_SECRET_ENV = "TEST_OPS_WEBHOOK_SECRET"
HOOK_SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def channel_config(settings, tmp_path, monkeypatch):
    """`channel_config(doc)` writes configs/incidents.json in a fresh config dir."""
    settings.CONFIG_DIR = tmp_path / "configs"
    settings.CONFIG_DIR.mkdir()

    def write(doc, **env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        path = settings.CONFIG_DIR / "incidents.json"
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    return write


@pytest.fixture
def three_channels(channel_config, slack, hook, smtp, settings):
    """Slack, a signed webhook and e-mail, all at once (route default: every channel)."""
    settings.TELEGRAM_TIMEOUT = 1.0
    channel_config(
        {
            "channels": {
                "chat": {"type": "slack", "url_env": SLACK_URL_ENV},
                "hooks": {
                    "type": "webhook",
                    "url_env": HOOK_URL_ENV,
                    "secret_env": HOOK_SECRET_ENV,
                },
                "oncall": {"type": "email", "to": ["oncall@example.com"]},
            },
            "runbooks": {"slo": "https://runbooks.example.com/slo"},
        },
        **{SLACK_URL_ENV: slack.url, HOOK_URL_ENV: hook.url, HOOK_SECRET_ENV: HOOK_SECRET},
    )
    return slack, hook, smtp
