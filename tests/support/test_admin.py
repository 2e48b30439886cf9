import pytest
from django.contrib.auth.models import User

from support.models import Digest, Message
from tests.support.dovecot import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw-0123456789")
    client.force_login(user)
    return client


@pytest.fixture
def history(mailbox, digest):
    mailbox.deliver(
        [
            make_message(sender="alice@example.com", subject="Refund please"),
            make_message(sender="bob@example.com", subject="How do I export?"),
        ]
    )
    first = digest()
    mailbox.deliver([make_message(sender="carol@example.com", subject="Login broken")])
    second = digest()
    return first, second


def _rows(response) -> str:
    return response.content.decode()


def test_message_list_search_and_filters(admin_client, history):
    url = "/admin/support/message/"
    page = _rows(admin_client.get(url))
    assert "Refund please" in page and "Login broken" in page
    page = _rows(admin_client.get(url, {"q": "alice"}))
    assert "Refund please" in page and "How do I export?" not in page
    page = _rows(admin_client.get(url, {"urgent__exact": "1"}))
    assert "Refund please" in page and "Login broken" in page and "How do I export?" not in page
    page = _rows(admin_client.get(url, {"new": "yes"}))
    assert "Login broken" in page and "Refund please" not in page
    page = _rows(admin_client.get(url, {"new": "no"}))
    assert "Refund please" in page and "Login broken" not in page


def test_pages_are_read_only(admin_client, history):
    message = Message.objects.get(subject="Refund please")
    page = admin_client.get(f"/admin/support/message/{message.pk}/change/")
    assert page.status_code == 200 and "Refund please" in _rows(page)
    assert 'name="subject"' not in _rows(page)  # shown, not editable
    assert admin_client.get("/admin/support/message/add/").status_code == 403
    assert admin_client.get(f"/admin/support/message/{message.pk}/delete/").status_code == 403
    digest = Digest.objects.filter(new_count=1).get()
    page = admin_client.get(f"/admin/support/digest/{digest.pk}/change/")
    assert page.status_code == 200 and "Login broken" in _rows(page)
    assert admin_client.get("/admin/support/digest/add/").status_code == 403


def test_digest_list_filters_failures(admin_client, history, settings, digest):
    settings.IMAP_PASS = "bad-Password-77"
    digest()
    page = _rows(admin_client.get("/admin/support/digest/", {"ok__exact": "0"}))
    assert "imap_auth" in page and "bad-Password-77" not in page
