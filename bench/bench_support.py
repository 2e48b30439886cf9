"""Digest of a 1,000-message mailbox on a real Dovecot server (target: under 2 s).

The digest runs in a child process against a migrated throwaway database.
Baseline: a bare IMAP session (connect, LOGIN, EXAMINE, LOGOUT) on the same
server, the least any digest must spend.
"""

import json
import subprocess
import sys

from bench.common import ROOT, workspace
from tests.support.dovecot import DovecotServer, make_message

MESSAGES = 1000
TARGET_S = 2.0

CHILD = r"""
import imaplib, json, os, time
import django
django.setup()
from support.services import run_digest

def bare():
    t = time.perf_counter()
    c = imaplib.IMAP4(os.environ["IMAP_HOST"], int(os.environ["IMAP_PORT"]), timeout=20)
    c.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"])
    c.select("INBOX", readonly=True)
    c.logout()
    return time.perf_counter() - t

def timed(**kw):
    t = time.perf_counter()
    r = run_digest(actor="cli", **kw)
    assert r.ok, r.detail
    return time.perf_counter() - t, r

out = {}
out["cold_20"], r = timed(limit=20)
out["cold_20_new"] = r.new_count
out["unseen"] = r.unseen
out["baseline"] = min(bare() for _ in range(5))
out["warm_20"], r = timed(limit=20)
out["warm_20_new"] = r.new_count
out["warm_100"], r = timed(limit=100)
out["warm_100_new"] = r.new_count
out["repeat_100"], r = timed(limit=100)
print(json.dumps(out))
"""


def run() -> list[str]:
    failures = []
    server = DovecotServer.start()
    try:
        server.deliver(
            [
                make_message(
                    sender=f'"=?UTF-8?Q?Cliente_{i}?=" <c{i}@example.com>',
                    subject=f"=?UTF-8?Q?Probl=C3=A8me_{i}?= urgent" if i % 10 == 0 else f"Q {i}",
                    body="x" * 2000 + "\r\n",
                )
                for i in range(MESSAGES)
            ]
        )
        server.deliver([make_message(subject=f"read {i}") for i in range(100)], seen=True)
        imap = {
            "IMAP_HOST": server.host,
            "IMAP_PORT": server.port,
            "IMAP_USER": server.user,
            "IMAP_PASS": server.password,
            "IMAP_SSL": "0",
        }
        with workspace(**imap) as (_, env):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        if proc.returncode != 0:
            return [f"digest child failed: {proc.stderr[-2000:]}"]
        got = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.stop()

    base = got["baseline"]
    print(f"  mailbox: {got['unseen']} unread + 100 read messages (Dovecot, Maildir, loopback)")
    print(f"  {'case':44} {'seconds':>8} {'x baseline':>10}  target")
    print(f"  {'bare IMAP session (baseline, best of 5)':44} {base:8.3f} {1:10.1f}")
    cases = [
        ("digest limit 20, cold index, 20 new", "cold_20"),
        ("digest limit 20, nothing new", "warm_20"),
        ("digest limit 100, 80 new", "warm_100"),
        ("digest limit 100, nothing new", "repeat_100"),
    ]
    for label, key in cases:
        seconds = got[key]
        ok = seconds < TARGET_S
        ratio = seconds / base if base else 0.0
        mark = f"< {TARGET_S:.1f} s " + ("ok" if ok else "MISSED")
        print(f"  {label:44} {seconds:8.3f} {ratio:10.1f}  {mark}")
        if not ok:
            failures.append(f"{label}: {seconds:.2f} s (target < {TARGET_S} s)")
    expected = {"cold_20_new": 20, "warm_20_new": 0, "warm_100_new": 80}
    for key, want in expected.items():
        if got[key] != want:
            failures.append(f"{key}: {got[key]} new, expected {want}")
    if got["unseen"] != MESSAGES:
        failures.append(f"unseen {got['unseen']}, expected {MESSAGES}")
    return failures
