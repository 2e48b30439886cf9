"""A slow IMAP server cannot outlast the web server's timeout.

Under a real gunicorn with a short worker timeout, a digest against a server
that keeps trickling bytes (so no single read ever times out) answers 502
`imap_timeout` in JSON, and the failure is stored.
"""

import requests

from support.models import Digest
from tests.conftest import TEST_KEY, subprocess_env
from tests.processes import spawn_gunicorn, stop
from tests.support.conftest import trickling_port  # noqa: F401 - the fixture

WEB_TIMEOUT = 8


def test_a_slow_imap_digest_answers_502_in_json_within_the_web_timeout(settings, trickling_port):  # noqa: F811
    env = subprocess_env(
        settings,
        WEB_TIMEOUT=WEB_TIMEOUT,
        GUNICORN_CMD_ARGS=f"--timeout {WEB_TIMEOUT}",
        IMAP_HOST="127.0.0.1",
        IMAP_PORT=trickling_port,
        IMAP_USER="support@example.com",
        IMAP_PASS="s3cret-Pa55word",
        IMAP_SSL=0,
        IMAP_TIMEOUT=WEB_TIMEOUT - 5,
    )
    proc, base = spawn_gunicorn(env, workers=1)
    try:
        response = requests.post(
            f"{base}/api/support/digest", headers={"X-Dash-Key": TEST_KEY}, timeout=60
        )
    finally:
        stop(proc)
    # Past gunicorn's timeout the worker would have been killed: no JSON at all.
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["ok"] is False and body["error"] == "imap_timeout"
    assert "s3cret" not in response.text
    row = Digest.objects.get(pk=body["digest_id"])
    assert (row.ok, row.error) == (False, "imap_timeout")
