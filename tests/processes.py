"""Real processes for tests, benchmarks and the fuzz runner.

A throwaway installation (`workspace`: its own migrated database and log
directory) and the app served under gunicorn on a free loopback port.
"""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-0123456789abcdef"


def workspace_env(workdir: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="echopilot.settings",
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"),
        ECHOPILOT_LOG_DIR=str(workdir / "logs"),
        ECHOPILOT_BACKUP_DIR=str(workdir / "backups"),
        ECHOPILOT_ENV_FILE=os.devnull,
        DASHBOARD_KEY=KEY,
        SECRET_KEY="bench-secret-key-0123456789-0123456789",
        PYTHONPATH=str(ROOT),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextlib.contextmanager
def workspace(**extra):
    """Yield (workdir, env) with a migrated database; remove it afterwards."""
    (ROOT / "var").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="echopilot-ws-", dir=ROOT / "var"))
    env = workspace_env(workdir, **extra)
    try:
        manage("migrate", "--noinput", "-v0", env=env)
        yield workdir, env
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def manage(*args: str, env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc=None) -> None:
    """Wait until something listens on loopback `port` (or `proc` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def run_limits() -> list[str]:
    """The gunicorn request-line and header limits `make run` passes (bin/run)."""
    text = (ROOT / "bin" / "run").read_text()
    flags = re.findall(r"(--limit-request-[a-z_]+) (\d+)", text)
    assert {f for f, _ in flags} == {
        "--limit-request-fields",
        "--limit-request-field_size",
        "--limit-request-line",
    }, flags
    return [part for pair in flags for part in pair]


def spawn_gunicorn(env: dict, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """Start the app under gunicorn (sync workers) on loopback with `make run`'s
    request limits (the ones the OpenAPI schema documents); return (process, URL)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "echopilot.wsgi", "-b", f"127.0.0.1:{port}"]
    command += ["-w", str(workers), "--log-level", "warning", "--no-control-socket"]
    command += run_limits()
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for_port(port, proc=proc)
    except BaseException:
        stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def gunicorn(env: dict, workers: int = 2):
    """Serve the app under gunicorn on loopback; yield the base URL."""
    proc, url = spawn_gunicorn(env, workers)
    try:
        yield url
    finally:
        stop(proc)


WRK_ARGS = ["-t2", "-c32", "-d10s"]

LUA = """
wrk.method = os.getenv("WRK_METHOD") or "GET"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["X-Dash-Key"] = os.getenv("WRK_KEY")
if wrk.body then wrk.headers["Content-Type"] = "application/json" end
"""


def _seconds(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    extra_headers: dict | None = None,
    args: list[str] = WRK_ARGS,
) -> dict:
    """Load `url` with wrk; return requests/s, p99 (ms), requests and non-2xx count."""
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        script = LUA
        for name, value in (extra_headers or {}).items():
            script += f'wrk.headers["{name}"] = "{value}"\n'
        fh.write(script)
    env = dict(os.environ, WRK_METHOD=method, WRK_KEY=KEY)
    if body is not None:
        env["WRK_BODY"] = body
    try:
        out = subprocess.run(
            ["wrk", *args, "--latency", "-s", fh.name, url],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _seconds(re.search(r"\s99%\s+(\S+)", out).group(1)) * 1000
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p99_ms": p99,
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


class SilentServer:
    """A server on loopback that accepts connections and never answers (a hung IMAP
    server, a frozen Redis); counts them.

    `active` is how many connections are open right now and `peak` the most at
    once (a reader thread per connection notices when the client goes away).
    """

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.active += 1
                self.peak = max(self.peak, self.active)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                self.active -= 1

    def close(self):
        self.sock.close()


def children(pid: int) -> set[int]:
    """Every live descendant of `pid` (Linux: read from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # After the command name (which may hold spaces and parentheses):
                    # state, then the parent's pid.
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone since the listing
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def promtool(
    *args: str, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run `promtool *args`. Where promtool is missing, skip the calling test, or
    fail it under CI (.ci/run: a missing tool fails, never skips)."""
    import pytest

    if not shutil.which("promtool"):
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian package prometheus)")
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run(
        ["promtool", *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=60
    )


def counts_per_process(directory: Path, sample: str, **labels: str) -> dict[str, float]:
    """Read each process's Prometheus counter file (multiprocess mode) under
    `directory`: {file name: total of `sample` over the series with `labels`}."""
    import json

    from prometheus_client.mmap_dict import MmapedDict

    totals = {}
    for path in directory.glob("counter_*.db"):
        total = 0.0
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, found, _help = json.loads(key)
            if name == sample and all(found.get(k) == v for k, v in labels.items()):
                total += value
        totals[path.name] = total
    return totals
