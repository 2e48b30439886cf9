"""The key operations: what they store, what they refuse, what they mirror."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from echopilot import access
from echopilot.exceptions import Conflict, Invalid, NotFound
from echopilot.models import ApiKey
from tests.conftest import read_ndjson

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_create_stores_only_the_hash_and_a_prefix(committed, log_dir):
    with committed():
        issued = access.apikey_create(
            name="shop-web", scopes=["read", "evaluate"], actor="cli", rate="100/min"
        )
    secret = issued.secret
    assert secret.startswith("ep_") and len(secret) == 3 + 64
    int(secret[3:], 16)  # 32 random bytes, hex
    key = ApiKey.objects.get()
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:9] and issued.info["prefix"] == key.prefix
    assert key.scopes == ["evaluate", "read"]  # canonical order
    assert (key.created_by, key.rate, key.expires_at, key.revoked_at) == (
        "cli",
        "100/min",
        None,
        None,
    )
    assert secret not in repr(issued)
    [line] = read_ndjson(log_dir, "access")
    assert line["type"] == "apikey.created" and line["actor"] == "cli"
    assert line["name"] == "shop-web" and line["scopes"] == ["evaluate", "read"]
    assert line["prefix"] == key.prefix and line["state"] == "active"


@pytest.mark.parametrize(
    "expires, delta",
    [
        ("90d", dt.timedelta(days=90)),
        ("12h", dt.timedelta(hours=12)),
        ("30m", dt.timedelta(minutes=30)),
    ],
)
def test_expiry_as_a_duration(expires, delta):
    now = timezone.now()
    assert access.parse_expiry(expires, now=now) == now + delta


def test_expiry_as_an_iso_date_or_date_time():
    now = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
    assert access.parse_expiry("2030-02-01", now=now) == dt.datetime(2030, 2, 1, tzinfo=dt.UTC)
    assert access.parse_expiry("2030-02-01T08:30:00Z", now=now) == dt.datetime(
        2030, 2, 1, 8, 30, tzinfo=dt.UTC
    )
    offset = access.parse_expiry("2030-02-01T10:30:00+02:00", now=now)
    assert offset == dt.datetime(2030, 2, 1, 8, 30, tzinfo=dt.UTC)
    assert access.parse_expiry(None, now=now) is None and access.parse_expiry("", now=now) is None


BAD_INPUT = [
    ({"scopes": ["evaluate", "admin"]}, Invalid, "Unknown scope(s) admin"),
    ({"scopes": []}, Invalid, "at least one scope"),
    ({"scopes": None}, Invalid, "at least one scope"),
    ({"expires": "2001-01-01"}, Invalid, "in the past"),
    ({"expires": "0d"}, Invalid, "in the past"),
    ({"expires": "tomorrow"}, Invalid, "neither a duration"),
    ({"expires": "90 days"}, Invalid, "neither a duration"),
    ({"expires": "9999999d"}, Invalid, "too far"),
    ({"name": ""}, Invalid, "not allowed"),
    ({"name": "Shop Web"}, Invalid, "not allowed"),
    ({"name": "x" * 51}, Invalid, "not allowed"),
    ({"name": "k_0123abcd"}, Invalid, "DASHBOARD_KEY label"),
    ({"rate": "fast"}, Invalid, "not a rate"),
    ({"rate": "0/min"}, Invalid, "not a rate"),
]


@pytest.mark.parametrize("change, error, text", BAD_INPUT, ids=lambda v: str(v)[:30])
def test_bad_input_is_refused_and_nothing_is_stored(committed, log_dir, change, error, text):
    args = {"name": "shop-web", "scopes": ["evaluate"], "actor": "cli", **change}
    with committed(), pytest.raises(error) as info:
        access.apikey_create(**args)
    assert text in info.value.detail
    assert not ApiKey.objects.exists()
    assert read_ndjson(log_dir, "access") == []


def test_a_name_is_never_reused_even_after_revocation(committed):
    with committed():
        access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
        access.apikey_revoke(name="shop-web", actor="cli")
    with pytest.raises(Conflict, match="exists already"):
        access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
    assert ApiKey.objects.count() == 1


def test_rotate_keeps_name_and_scopes_and_records_the_grace(committed, log_dir):
    with committed():
        first = access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
        second = access.apikey_rotate(name="shop-web", actor="admin:alice", grace="2h")
    key = ApiKey.objects.get()
    assert key.secret_hash == hashlib.sha256(second.secret.encode()).hexdigest()
    assert key.previous_hash == hashlib.sha256(first.secret.encode()).hexdigest()
    assert key.previous_prefix == first.secret[:9] and key.scopes == ["read"]
    assert abs((key.previous_valid_until - key.rotated_at) - dt.timedelta(hours=2)) < dt.timedelta(
        seconds=1
    )
    line = read_ndjson(log_dir, "access")[-1]
    assert (line["type"], line["actor"], line["prefix"]) == (
        "apikey.rotated",
        "admin:alice",
        second.secret[:9],
    )
    assert line["previous_valid_until"] is not None


@pytest.mark.parametrize("grace", ["31d", "-1h", "soon"])
def test_rotate_refuses_a_bad_grace(committed, grace):
    with committed():
        access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
    before = ApiKey.objects.get().secret_hash
    with pytest.raises(Invalid):
        access.apikey_rotate(name="shop-web", actor="cli", grace=grace)
    assert ApiKey.objects.get().secret_hash == before


def test_rotate_and_revoke_name_the_missing_or_dead_key(committed):
    with pytest.raises(NotFound):
        access.apikey_rotate(name="ghost", actor="cli")
    with pytest.raises(NotFound):
        access.apikey_revoke(name="ghost", actor="cli")
    with committed():
        access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
        access.apikey_revoke(name="shop-web", actor="cli")
    with pytest.raises(Conflict, match="is revoked"):
        access.apikey_rotate(name="shop-web", actor="cli")


def test_revoke_is_recorded_once(committed, log_dir):
    with committed():
        access.apikey_create(name="shop-web", scopes=["read"], actor="cli")
        first = access.apikey_revoke(name="shop-web", actor="admin:alice")
        again = access.apikey_revoke(name="shop-web", actor="cli")
    assert first["changed"] is True and again["changed"] is False
    key = ApiKey.objects.get()
    assert key.revoked_by == "admin:alice" and again["revoked_at"] == first["revoked_at"]
    types = [line["type"] for line in read_ndjson(log_dir, "access")]
    assert types == ["apikey.created", "apikey.revoked"]


def test_list_shows_state_but_no_hash(committed):
    with committed():
        access.apikey_create(name="b-live", scopes=["evaluate"], actor="cli")
        access.apikey_create(name="a-dead", scopes=["read"], actor="cli")
        access.apikey_revoke(name="a-dead", actor="cli")
        access.apikey_create(name="c-old", scopes=["read"], actor="cli", expires="1h")
    ApiKey.objects.filter(name="c-old").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    rows = access.apikey_list()
    assert [(r["name"], r["state"]) for r in rows] == [
        ("a-dead", "revoked"),
        ("b-live", "active"),
        ("c-old", "expired"),
    ]
    assert not any("hash" in field for row in rows for field in row)
