"""Support admin: a digest lists its items (samples marked), Run digest now, search."""

import re

import pytest

from support.models import Digest, Message
from support.services import SAMPLES, run_digest
from tests.conftest import read_ndjson
from tests.console import data

pytestmark = pytest.mark.django_db


def test_a_dry_run_digest_page_lists_its_samples_marked(viewer_client):
    result = run_digest(actor="cli", dry_run=True)
    page = viewer_client.get(f"/admin/support/digest/{result.digest_id}/change/").content.decode()
    for sample in SAMPLES:
        assert sample["subject"] in page and sample["from"] in page
    assert page.count('<span class="ep-badge">sample</span>') == len(SAMPLES)
    assert "Dry run: these are sample messages" in page
    assert "2025-10-20 09:12 UTC" in page  # the sample's date, in the console's format
    assert re.search(r"Dashboard down since 09:00.*?urgent", page, re.S)


def test_a_real_digest_page_lists_its_messages_with_new_and_urgent(viewer_client):
    digest = data.digests(0)
    page = viewer_client.get(f"/admin/support/digest/{digest.pk}/change/").content.decode()
    rows = page[page.index("ep-digest-items") :]
    assert rows.index("Site down for everyone") < rows.index("Refund please") < rows.index("Hello")
    assert rows.count("<strong>new</strong>") == 2
    assert rows.count('<strong class="ep-bad">urgent</strong>') == 2
    message = Message.objects.get(subject="Hello")
    assert f'href="/admin/support/message/{message.pk}/change/"' in rows


def test_run_digest_now_is_offered_to_editors_and_runs_the_service(
    editor_client, log_dir, django_capture_on_commit_callbacks
):
    page = editor_client.get("/admin/support/digest/").content.decode()
    assert "Run digest now</button>" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post("/admin/support/digest/run/", {"dry_run": "1"}, follow=True)
    digest = Digest.objects.get()
    assert digest.actor == "admin:editor" and digest.dry_run
    assert response.redirect_chain[-1][0] == f"/admin/support/digest/{digest.pk}/change/"
    body = response.content.decode()
    assert f"Digest {digest.pk}: 3 messages, 0 new, 2 urgent (dry run" in body
    assert SAMPLES[0]["subject"] in body
    lines = read_ndjson(log_dir, "support_digest")
    assert [line["actor"] for line in lines] == ["admin:editor"]


def test_run_digest_now_reports_a_mailbox_failure(editor_client, settings):
    from tests.processes import free_port

    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_PASS = "127.0.0.1", "u", "secret-pw"
    settings.IMAP_PORT, settings.IMAP_SSL, settings.IMAP_TIMEOUT = free_port(), False, 2
    response = editor_client.post("/admin/support/digest/run/", follow=True)
    body = response.content.decode()
    assert "Digest failed: imap_connect" in body
    assert "secret-pw" not in body
    assert Digest.objects.get().error == "imap_connect"


def test_run_digest_is_post_only(editor_client):
    assert editor_client.get("/admin/support/digest/run/").status_code == 405
    assert not Digest.objects.exists()


def test_messages_are_searchable_by_subject_and_sender(viewer_client):
    data.digests(0)
    url = "/admin/support/message/"
    page = viewer_client.get(url, {"q": "refund"}).content.decode()
    assert "Refund please" in page and "Site down for everyone" not in page
    page = viewer_client.get(url, {"q": "c0@example.com"}).content.decode()
    assert "Site down for everyone" in page and "Refund please" not in page
