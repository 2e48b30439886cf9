"""X-Dash-Key authentication over every API route."""

import re

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import OTHER_KEY, TEST_KEY

pytestmark = pytest.mark.django_db


def api_paths() -> list[str]:
    """Every routed path under /api/ and /ofrep/, with sample values for parameters."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            route = str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + route)
            elif isinstance(p, URLPattern):
                full = prefix + route
                if "^" in full or "$" in full:  # the regex catch-all
                    continue
                full = re.sub(r"<int:\w+>", "1", full)
                full = re.sub(r"<(?:str:|slug:|path:)?\w+>", "sample.key", full)
                found.append("/" + full)

    walk(get_resolver().url_patterns, "")
    return sorted(p for p in set(found) if p.startswith(("/api/", "/ofrep/")))


PROTECTED = [p for p in api_paths() if p != "/api/health"]


def test_route_list_covers_the_foundation():
    assert {"/api/ping", "/api/schema/", "/api/docs/"} <= set(PROTECTED)


@pytest.mark.parametrize("path", PROTECTED + ["/api/no/such/route"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_missing_key_is_401(anon, path, method):
    response = getattr(anon, method)(path)
    assert response.status_code == 401, (path, response.content[:200])
    assert response.json()["error"] == "unauthorized"
    assert "WWW-Authenticate" in response


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize("header", ["HTTP_X_DASH_KEY", "HTTP_X_API_KEY"])
def test_wrong_key_is_401(anon, path, header):
    response = anon.get(path, **{header: "wrong-key-0123456789"})
    assert response.status_code == 401
    assert response.json() == {
        "ok": False,
        "error": "unauthorized",
        "detail": "Invalid dashboard key.",
    }


@pytest.mark.parametrize("path", PROTECTED)
def test_no_key_configured_refuses_everything(anon, settings, path):
    settings.DASHBOARD_KEY = ""
    for headers in ({}, {"HTTP_X_DASH_KEY": TEST_KEY}, {"HTTP_AUTHORIZATION": "Bearer x"}):
        response = anon.get(path, **headers)
        assert response.status_code == 503, (path, headers)
        assert response.json()["error"] == "not_configured"


def test_every_header_form_is_accepted(anon):
    for headers in (
        {"HTTP_X_DASH_KEY": TEST_KEY},
        {"HTTP_X_API_KEY": TEST_KEY},
        {"HTTP_AUTHORIZATION": f"Bearer {TEST_KEY}"},
        {"HTTP_AUTHORIZATION": f"bearer {TEST_KEY}"},
    ):
        assert anon.get("/api/ping", **headers).json() == {"ok": True}, headers
    assert anon.get("/api/ping", HTTP_AUTHORIZATION=f"Token {TEST_KEY}").status_code == 401


def test_rotated_key_list_accepts_each_key(anon, settings):
    settings.DASHBOARD_KEY = f"{OTHER_KEY}, {TEST_KEY}"
    assert anon.get("/api/ping", HTTP_X_DASH_KEY=OTHER_KEY).status_code == 200
    assert anon.get("/api/ping", HTTP_X_DASH_KEY=TEST_KEY).status_code == 200
    assert anon.get("/api/ping", HTTP_X_DASH_KEY=TEST_KEY[:-1]).status_code == 401
    # An empty entry in the list is no key: an empty header must not match it.
    settings.DASHBOARD_KEY = f"{TEST_KEY},,"
    assert anon.get("/api/ping", HTTP_X_DASH_KEY="").status_code == 401


def test_health_is_public_and_says_only_liveness(anon, settings):
    settings.DASHBOARD_KEY = ""
    response = anon.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}


def test_ping_touches_no_database(api, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api.get("/api/ping").json() == {"ok": True}


def test_schema_and_docs_open_to_key_or_staff_only(anon, api):
    assert api.get("/api/schema/").status_code == 200
    assert b"openapi" in api.get("/api/schema/").content
    staff = User.objects.create_user("ops", password="pw-123456789", is_staff=True)
    plain = User.objects.create_user("visitor", password="pw-123456789")
    anon.force_login(plain)
    forbidden = anon.get("/api/docs/")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"
    anon.force_login(staff)
    docs = anon.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()  # assets come from our own static files
    assert anon.get("/api/schema/").status_code == 200
    # A staff session does not open the API itself: that needs the key.
    assert anon.get("/api/ping").status_code == 401


def test_docs_assets_are_served_locally(anon, api):
    page = api.get("/api/docs/").content.decode()
    assets = re.findall(r'src="(/static/[^"]+\.js)"', page)
    assert assets, page[:500]
    for asset in assets:
        response = anon.get(asset)
        assert response.status_code == 200, asset


def test_throttle_off_by_default_and_on_by_setting(api, settings):
    for _ in range(5):
        assert api.get("/api/ping").status_code == 200
    settings.API_THROTTLE_RATE = "2/min"
    assert api.get("/api/ping").status_code == 200
    assert api.get("/api/ping").status_code == 200
    third = api.get("/api/ping")
    assert third.status_code == 429
    assert third.json()["error"] == "throttled"
    assert int(third["Retry-After"]) >= 1
