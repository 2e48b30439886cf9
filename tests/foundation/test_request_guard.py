"""Checks before any view: a body over the upload limit, a query that is not UTF-8."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_a_body_over_the_upload_limit_is_413_in_json(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api.generic(
        "POST",
        "/api/flags/set",
        '{"key": "a", "value": "' + "x" * 200 + '"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    body = response.json()
    assert (
        body["ok"] is False
        and body["error"] == "payload_too_large"
        and "100 bytes" in body["detail"]
    )


def test_a_body_over_the_limit_on_ofrep_answers_in_ofreps_shape(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    response = api.generic(
        "POST",
        "/ofrep/v1/evaluate/flags",
        '{"context": {"targetingKey": "user-1"}}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == "GENERAL"


@pytest.mark.parametrize("query", ["user=%ff&exp=pricing_v2", "user=%c3%28&exp=pricing_v2"])
def test_a_query_that_is_not_utf8_is_400_not_a_replacement_character(api, query):
    response = api.get(f"/api/exp/assign?{query}")
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": "invalid",
        "detail": "The query string is not valid UTF-8.",
    }


def test_raw_bytes_that_are_not_utf8_are_400_too(api):
    # WSGI passes an unescaped byte 0xff as the latin-1 character U+00FF.
    response = api.get("/api/exp/assign", QUERY_STRING="user=\xff&exp=pricing_v2")
    assert response.status_code == 400
    assert response.json()["detail"] == "The query string is not valid UTF-8."


def test_percent_encoded_utf8_in_a_query_still_works(api):
    call_command("load_configs", stdout=StringIO())
    response = api.get("/api/exp/assign?user=jos%C3%A9&exp=pricing_v2")
    assert response.status_code == 200, response.content
    assert response.json()["user"] == "josé"


# --- what the schema says about these refusals ----------------------------------------


@pytest.fixture
def schema(api):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema, *prefixes):
    """Yield (path, method, operation) for every operation under `prefixes`."""
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            if isinstance(operation, dict) and path.startswith(prefixes):
                yield path, method, operation


def concrete(path: str) -> str:
    """The path with every `{parameter}` filled in (the checks run before routing)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def json_schema_of(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def test_the_schema_documents_413_on_every_operation_that_takes_a_body(api, schema, settings):
    with_body = [
        (path, method, op)
        for path, method, op in operations(schema, "/api/", "/ofrep/")
        if "requestBody" in op
    ]
    assert len(with_body) >= 15
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    for path, method, operation in with_body:
        documented = operation["responses"].get("413")
        assert documented, f"{method.upper()} {path} does not document 413"
        ofrep = path.startswith("/ofrep/")
        name = "OfrepError" if ofrep else "Error"
        assert json_schema_of(documented) == {"$ref": f"#/components/schemas/{name}"}
        # And the server answers so, in that shape.
        body = '{"padding": "' + "x" * 40 + '"}'
        response = api.generic(
            method.upper(), concrete(path), body, content_type="application/json"
        )
        assert response.status_code == 413, (method, path, response.content)
        if ofrep:
            assert response.json()["errorCode"] == "GENERAL"
        else:
            assert response.json()["error"] == "payload_too_large"
    assert schema["components"]["schemas"]["OfrepError"]["required"] == [
        "errorCode",
        "errorDetails",
    ]


def test_the_schema_documents_400_on_every_operation_under_api(api, schema):
    found = list(operations(schema, "/api/"))
    without_input = [
        (path, method)
        for path, method, op in found
        if "requestBody" not in op and not op.get("parameters")
    ]
    assert ("/api/ping", "get") in without_input and ("/api/flags/list", "get") in without_input
    for path, method, operation in found:
        documented = operation["responses"].get("400")
        assert documented, f"{method.upper()} {path} does not document 400"
        assert json_schema_of(documented) == {"$ref": "#/components/schemas/Error"}
        # A query that is not UTF-8 is refused there, whatever the operation takes.
        response = api.generic(method.upper(), concrete(path) + "?q=%ff")
        assert response.status_code == 400, (method, path, response.content)
        assert response.json()["detail"] == "The query string is not valid UTF-8."
    ping = schema["paths"]["/api/ping"]["get"]["responses"]["400"]["description"]
    assert "UTF-8" in ping
