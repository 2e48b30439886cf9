"""Every routed API operation declares the scope a key needs for it."""

import re
from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from echopilot import access

SCOPES = {"evaluate", "read", "write", "metrics", "alertmanager"}
KEYED_PREFIXES = ("api/", "ofrep/", "metrics")


def routes(patterns=None, prefix=""):
    """Yield (route, view class) for every DRF view in the URL configuration."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None) or getattr(
                entry.callback, "view_class", None
            )
            if cls is not None:
                yield route, cls


def keyed_routes():
    return [(r, cls) for r, cls in routes() if r.startswith(KEYED_PREFIXES)]


def test_the_walk_finds_the_routes_of_every_app():
    found = {r for r, _ in keyed_routes()}
    for route in (
        "api/ping",
        "api/flags/set",
        "api/exp/assign",
        "api/costs/report",
        "api/support/digest",
        "api/incidents/scan",
    ):
        assert route in found, route
    assert any(r.startswith("ofrep/") for r in found)


@pytest.mark.parametrize("route, cls", keyed_routes(), ids=lambda v: str(v))
def test_every_keyed_route_declares_its_scope(route, cls):
    if AllowAny in getattr(cls, "permission_classes", []):
        assert route in {"api/health"}, f"{route} is public: is that meant?"
        return
    declared = getattr(cls, "required_scope", None)
    if declared is None:
        assert callable(getattr(cls, "get_required_scope", None)), f"{route}: no scope declared"
    else:
        assert declared in SCOPES, f"{route}: unknown scope {declared!r}"


# --- the scope matrix: every routed operation against a key of every scope ----

METHODS = ("get", "post", "put", "patch", "delete")


def concrete(route: str) -> str:
    """A path for `route` with its parameters filled in (things that do not exist)."""
    if route.endswith("^.*$"):
        return "/api/no-such-endpoint"
    path = re.sub(r"<int:\w+>", "999999", route)
    path = re.sub(r"<(?:str:|slug:|path:)?\w+>", "no.such.flag", path)
    return "/" + path


def needed_scope(cls, method: str, query: dict) -> str:
    if getattr(cls, "required_scope", None):
        return cls.required_scope
    return cls().get_required_scope(SimpleNamespace(method=method, query_params=query))


def operations():
    for route, cls in keyed_routes():
        if AllowAny in getattr(cls, "permission_classes", []):
            continue
        for method in METHODS:
            if hasattr(cls, method):
                yield route, method.upper(), cls
    yield "api/costs/report", "GET?save=true", None  # the same view, storing: write


@pytest.fixture
def scoped_clients(db):
    clients = {}
    for scope in access.SCOPES:
        issued = access.apikey_create(name=f"matrix-{scope}", scopes=[scope], actor="test")
        client = APIClient()
        client.credentials(HTTP_X_DASH_KEY=issued.secret)
        clients[scope] = client
    access.invalidate()
    return clients


@pytest.mark.parametrize("route, method, cls", list(operations()), ids=lambda v: str(v))
def test_each_scope_reaches_exactly_the_operations_it_grants(scoped_clients, route, method, cls):
    query = {"save": "true"} if method.endswith("save=true") else {}
    method = method.split("?")[0]
    if cls is None:
        cls = dict(keyed_routes())[route]
    needed = needed_scope(cls, method, query)
    path = concrete(route)
    for scope, client in scoped_clients.items():
        response = client.generic(
            method,
            path,
            "{}",
            content_type="application/json",
            QUERY_STRING="&".join(f"{k}={v}" for k, v in query.items()),
        )
        allowed = needed in access.granted([scope])
        if allowed:
            assert response.status_code not in (401, 403), (scope, method, path, response.content)
        else:
            assert response.status_code == 403, (scope, method, path, response.status_code)
            if not path.startswith("/ofrep/"):
                body = response.json()
                assert body["error"] == "forbidden" and needed in body["detail"], body
