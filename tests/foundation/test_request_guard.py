"""Checks before any view: a body over the upload limit, a query that is not UTF-8."""

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
