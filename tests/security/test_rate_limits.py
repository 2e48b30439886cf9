"""Admin logins limited per username and address; keyless API requests throttled per address."""

import logging

import pytest
from django.test import Client

from echopilot import security
from tests.conftest import STAFF_PASSWORD, TEST_KEY, staff

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = STAFF_PASSWORD


@pytest.fixture
def root():
    """A superuser "root" with `PASSWORD` (the tests below log in by that name)."""
    return staff("root", password=PASSWORD, is_superuser=True)


def login(client: Client, username: str, password: str, **extra) -> bool:
    """Post the admin login form; return whether it logged in."""
    response = client.post(LOGIN, {"username": username, "password": password}, **extra)
    return response.status_code == 302


def test_the_11th_login_after_10_failures_is_refused_even_with_the_right_password(
    client, root, caplog
):
    with caplog.at_level(logging.WARNING, logger="echopilot.security"):
        for _ in range(10):
            assert not login(client, "root", "wrong")
    assert "refused for 15 minutes for username root after 10 failures" in caplog.text
    response = client.post(LOGIN, {"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_backend_refuses_a_locked_username_whatever_the_form(root):
    from django.contrib.auth import authenticate

    for _ in range(10):
        assert authenticate(None, username="root", password="wrong") is None
    assert authenticate(None, username="root", password=PASSWORD) is None


def test_the_lock_logs_and_covers_the_username_from_any_address(root, caplog):
    with caplog.at_level(logging.WARNING, logger="echopilot.security"):
        for i in range(10):
            assert not login(Client(REMOTE_ADDR=f"10.0.0.{i}"), "ROOT", "wrong")
    assert "for username root after 10 failures" in caplog.text
    assert not login(Client(REMOTE_ADDR="10.9.9.9"), "root", PASSWORD)


def test_ten_failures_from_one_address_lock_that_address(root):
    for i in range(10):
        assert not login(Client(REMOTE_ADDR="10.1.1.1"), f"guess{i}", "wrong")
    assert not login(Client(REMOTE_ADDR="10.1.1.1"), "root", PASSWORD)
    assert login(Client(REMOTE_ADDR="10.2.2.2"), "root", PASSWORD)


def test_a_forged_forwarded_for_does_not_escape_the_address_lock(root):
    for i in range(10):
        login(
            Client(REMOTE_ADDR="10.1.1.1"), f"guess{i}", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}"
        )
    assert not login(
        Client(REMOTE_ADDR="10.1.1.1"), "root", PASSWORD, HTTP_X_FORWARDED_FOR="9.9.9.9"
    )


def test_behind_a_trusted_proxy_the_forwarded_address_counts(settings, root):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for i in range(10):
        login(Client(**proxy), f"guess{i}", "wrong", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert not login(Client(**proxy), "root", PASSWORD, HTTP_X_FORWARDED_FOR="6.6.6.6")
    # The client's own claims left of the proxy's entry are not trusted.
    assert login(Client(**proxy), "root", PASSWORD, HTTP_X_FORWARDED_FOR="6.6.6.6, 7.7.7.7")


def test_the_lock_ends_after_15_minutes(root, monkeypatch):
    for _ in range(10):
        login(Client(), "root", "wrong")
    assert not login(Client(), "root", PASSWORD)
    now = security.time.time()
    monkeypatch.setattr(security.time, "time", lambda: now + 15 * 60 + 1)
    assert login(Client(), "root", PASSWORD)


def test_a_success_clears_the_username_count(root):
    for _ in range(9):
        login(Client(REMOTE_ADDR="10.0.0.1"), "root", "wrong")
    assert login(Client(REMOTE_ADDR="10.0.0.2"), "root", PASSWORD)
    assert not login(Client(REMOTE_ADDR="10.0.0.3"), "root", "wrong")
    assert login(Client(REMOTE_ADDR="10.0.0.3"), "root", PASSWORD)


def test_keyless_and_bad_key_requests_are_throttled_per_address(settings):
    settings.API_THROTTLE_RATE = "3/min"
    attacker = Client(REMOTE_ADDR="10.6.6.6")
    codes = [attacker.get("/api/ping").status_code for _ in range(2)]
    codes.append(attacker.get("/api/ping", HTTP_X_DASH_KEY="guess-0123456789").status_code)
    assert codes == [401, 401, 401]
    refused = attacker.get("/api/ping", HTTP_X_DASH_KEY=TEST_KEY)
    assert refused.status_code == 429  # even the right key: guessing gets nowhere
    assert refused.json()["error"] == "throttled" and int(refused["Retry-After"]) >= 1
    forged = attacker.get("/api/ping", HTTP_X_DASH_KEY=TEST_KEY, HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert forged.status_code == 429
    assert (
        Client(REMOTE_ADDR="10.7.7.7").get("/api/ping", HTTP_X_DASH_KEY=TEST_KEY).status_code == 200
    )
    assert attacker.get("/api/health").status_code == 200  # the public probe stays open


def test_keyless_requests_are_not_throttled_when_throttling_is_off(settings):
    settings.API_THROTTLE_RATE = ""
    client = Client(REMOTE_ADDR="10.6.6.6")
    assert {client.get("/api/ping").status_code for _ in range(20)} == {401}


def test_a_username_cannot_forge_log_lines(caplog):
    with caplog.at_level(logging.WARNING, logger="echopilot.security"):
        for _ in range(10):
            login(Client(REMOTE_ADDR="10.3.3.3"), "x\nsecurity: all clear", "wrong")
    (record,) = [r for r in caplog.records if "username" in r.getMessage()]
    assert "\n" not in record.getMessage() and "x security: all clear" in record.getMessage()
