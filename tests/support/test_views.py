import json
import urllib.error
import urllib.request

import pytest

from support.models import Digest, Message
from tests.conftest import TEST_KEY, read_ndjson
from tests.support.dovecot import make_message

pytestmark = pytest.mark.django_db
URL = "/api/support/digest"


def test_digest_over_the_api(api, mailbox):
    mailbox.deliver([make_message(subject="Outage in EU", message_id="<eu@example.com>")])
    response = api.post(URL, {"limit": 5}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["count"], body["dry_run"], body["new_count"]) == (True, 1, False, 1)
    assert body["items"][0]["message_id"] == "<eu@example.com>"
    assert body["items"][0]["urgent"] is True and body["urgent_count"] == 1
    assert Digest.objects.get().actor.startswith("api:k_")
    again = api.post(URL, format="json").json()
    assert again["new_count"] == 0 and again["items"][0]["new"] is False


def test_empty_body_without_credentials_is_a_dry_run(api):
    response = api.post(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["count"] == 3
    assert Message.objects.count() == 0


def test_forced_dry_run(api, mailbox):
    body = api.post(URL, {"dry_run": True, "limit": 2}, format="json").json()
    assert body["dry_run"] is True and body["dry_run_reason"] == "forced" and body["count"] == 2


def test_imap_failure_is_502_and_stored(api, mailbox, settings):
    settings.IMAP_PASS = "not-the-Password-42"
    response = api.post(URL, {}, format="json")
    assert response.status_code == 502
    body = response.json()
    assert body["ok"] is False and body["error"] == "imap_auth"
    assert "not-the-Password-42" not in response.content.decode()
    digest = Digest.objects.get(pk=body["digest_id"])
    assert (digest.ok, digest.error) == (False, "imap_auth")


def test_connection_refused_is_502(api, mailbox, settings, closed_port):
    settings.IMAP_PORT = closed_port
    response = api.post(URL, {}, format="json")
    assert response.status_code == 502 and response.json()["error"] == "imap_connect"


def test_undecodable_charset_is_not_a_500(api, mailbox):
    mailbox.deliver([make_message(subject="=?idna?q?x?="), make_message(subject="=?a?q?=00?=")])
    response = api.post(URL, {}, format="json")
    assert response.status_code == 200
    assert [i["subject"] for i in response.json()["items"]] == ["", "x"]


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -5},
        {"limit": "5"},
        {"limit": 5.0},
        {"limit": 5.5},
        {"limit": True},
        {"limit": None},
        {"dry_run": "yes"},
        {"dry_run": 1},
        {"dry_run": None},
        {"unknown": 1},
        {"limit": 5, "mailbox": "Other"},
        [1, 2],
        "limit",
    ],
)
def test_bad_input_is_400(api, body):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["ok"] is False and payload["error"] == "invalid" and payload["detail"]
    assert Digest.objects.count() == 0


def test_json_null_body_is_400(api):
    response = api.post(URL, "null", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"


def test_malformed_json_is_400(api):
    response = api.post(URL, "{limit: 3", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "parse_error"


def test_key_required(anon):
    response = anon.post(URL, {}, format="json")
    assert response.status_code == 401 and response.json()["ok"] is False
    assert Digest.objects.count() == 0


def test_get_not_allowed(api):
    assert api.get(URL).status_code == 405


def test_schema_documents_the_endpoint(anon):
    response = anon.get("/api/schema/?format=json", HTTP_X_DASH_KEY=TEST_KEY)
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/support/digest"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "502"}


def test_under_gunicorn(gunicorn_server, mailbox):
    """The whole path in a real server process: HTTP, auth, IMAP, database."""
    mailbox.deliver([make_message(subject="via gunicorn")])
    imap = {"IMAP_HOST": mailbox.host, "IMAP_PORT": mailbox.port, "IMAP_USER": mailbox.user}
    base = gunicorn_server(IMAP_PASS=mailbox.password, IMAP_SSL="0", **imap)
    bad = gunicorn_server(IMAP_PASS="Nope-nope-123", IMAP_SSL="0", **imap)

    def post(url):
        request = urllib.request.Request(
            url + URL,
            data=b'{"limit": 3}',
            method="POST",
            headers={"X-Dash-Key": TEST_KEY, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, body = post(base)
    assert status == 200 and body["items"][0]["subject"] == "via gunicorn"
    status, body = post(bad)
    assert status == 502 and body["error"] == "imap_auth"
    assert list(Digest.objects.order_by("id").values_list("ok", flat=True)) == [True, False]


def test_a_crash_is_a_json_500_and_the_failed_digest_is_stored(api, mailbox, settings, log_dir):
    settings.IMAP_TIMEOUT = "soon"  # not a number: the digest cannot even start
    api.raise_request_exception = False
    response = api.post(URL, {}, format="json")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    row = Digest.objects.get()
    assert (row.ok, row.error, row.actor[:6]) == (False, "internal", "api:k_")
    lines = read_ndjson(log_dir, "support_digest")
    assert [(li["error"], li["digest_id"]) for li in lines] == [("internal", row.pk)]
