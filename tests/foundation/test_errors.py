"""One JSON error format; strict input; never NaN; never an HTML page under /api/."""

import json

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.urls")]


def post(api, body: str):
    return api.generic("POST", "/api/test/echo", body, content_type="application/json")


def test_valid_input_passes(api):
    response = post(api, '{"name": "a", "count": 3, "enabled": true, "ratio": 1}')
    assert response.status_code == 200
    assert response.json() == {"ok": True, "name": "a", "count": 3, "enabled": True, "ratio": 1.0}


@pytest.mark.parametrize("body", ["{", "not json", '{"name": NaN}', '{"a":1}{'])
def test_malformed_json_is_parse_error(api, body):
    response = post(api, body)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["error"] == "parse_error" and body["detail"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "a", "count": "7"}, "count"),
        ({"name": "a", "count": 7.0}, "count"),
        ({"name": "a", "count": True}, "count"),
        ({"name": "a", "enabled": "yes"}, "enabled"),
        ({"name": "a", "enabled": 1}, "enabled"),
        ({"name": "a", "ratio": "0.5"}, "ratio"),
        ({"name": "a", "ratio": 10**400}, "ratio"),
        ({"name": 5}, "name"),
        ({"name": "a", "count": 0}, "count"),
        ({"name": "a" * 11}, "name"),
        ({}, "name"),
        ({"name": "a", "surprise": 1}, "surprise"),
    ],
)
def test_wrong_types_and_unknown_fields_are_invalid(api, payload, field):
    response = post(api, json.dumps(payload))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert body["detail"].startswith(f"{field}:"), body


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "a\\u0000b"}',
        '{"name": "\\ud800"}',
        '{"name": "a", "\\u0000": 1}',
        '{"name": "a", "deep": ' + "[" * 65 + "]" * 65 + "}",
        '{"name": "a", "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        b'{"name": "\xff"}',
    ],
)
def test_unstorable_or_too_deep_json_is_parse_error(api, body):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_nesting_limit_is_exact():
    from rest_framework.exceptions import ParseError

    from echopilot.parsers import MAX_DEPTH, check_json

    def nested(levels):
        value = "é ok"
        for _ in range(levels):
            value = [value]
        return value

    check_json(nested(MAX_DEPTH))
    with pytest.raises(ParseError):
        check_json(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_body_that_is_not_an_object_is_invalid(api, body):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid", "parse_error"}


def test_query_parameters_are_strict(api):
    assert api.get("/api/test/query").json() == {"ok": True, "limit": 10, "save": False}
    ok = api.get("/api/test/query?limit=7&save=true&format=json")
    assert ok.json() == {"ok": True, "limit": 7, "save": True}
    for query, field in [
        ("limit=7.0", "limit"),
        ("limit=%207", "limit"),
        ("limit=%2B7", "limit"),
        ("limit=0", "limit"),
        ("limit=1&limit=2", "limit"),
        ("save=yes", "save"),
        ("other=1", "other"),
    ]:
        response = api.get(f"/api/test/query?{query}")
        assert response.status_code == 400, query
        assert response.json()["detail"].startswith(f"{field}:"), (query, response.json())


def test_method_not_allowed_is_json(api):
    response = api.delete("/api/ping")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/nope/nothing")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error": "not_found", "detail": "No such endpoint."}


def test_unknown_ofrep_path_is_ofrep_404(api):
    response = api.post("/ofrep/v2/nothing")
    assert response.status_code == 404
    assert response.json() == {"errorCode": "GENERAL", "errorDetails": "No such endpoint."}


def test_unknown_non_api_path_is_html_404(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_content_type_is_json_415(api):
    response = api.generic("POST", "/api/test/echo", "name=a", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_nan_and_infinity_render_as_null(api):
    response = api.get("/api/test/nan")
    assert response.status_code == 200
    assert b"NaN" not in response.content and b"Infinity" not in response.content
    assert response.json() == {"ok": True, "nan": None, "inf": [None], "x": 1.5}


def test_unhandled_error_is_json_500_without_traceback(api, client):
    api.raise_request_exception = False
    response = api.get("/api/test/boom")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert b"Traceback" not in response.content
