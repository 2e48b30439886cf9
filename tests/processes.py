"""Real processes for tests, benchmarks and the fuzz runner.

A throwaway installation (`workspace`: its own migrated database and log
directory) and the app served under gunicorn on a free loopback port.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


def spawn_gunicorn(env: dict, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """Start the app under gunicorn (sync workers) on loopback; return (process, URL)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "echopilot.wsgi", "-b", f"127.0.0.1:{port}"]
    command += ["-w", str(workers), "--log-level", "warning", "--no-control-socket"]
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
