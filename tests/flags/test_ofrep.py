"""OFREP: the real OpenFeature SDK and OFREP provider against a live server, and the wire shapes."""

import pytest
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from flags import config, services
from tests.conftest import TEST_KEY

URL = "/ofrep/v1/evaluate/flags"


def make_flags():
    config.flags_load()
    services.flag_set(
        key="ui.theme",
        actor="cli",
        create=True,
        value="dark",
        rules=[
            {
                "name": "germany",
                "conditions": [{"attribute": "country", "op": "eq", "value": "DE"}],
                "value": "light",
            }
        ],
    )
    services.flag_set(key="limits.max_items", actor="cli", create=True, value=5)
    services.flag_set(key="pricing.ratio", actor="cli", create=True, value=1, type="float")
    services.flag_set(key="ui.layout", actor="cli", create=True, value={"columns": 2})
    services.flag_set(
        key="ab.everyone",
        actor="cli",
        create=True,
        value=False,
        rollout={"percentage": 100, "value": True, "name": "treatment"},
    )


@pytest.fixture
def client(gunicorn_server):
    make_flags()
    base = gunicorn_server()
    # The key travels as the spec's X-API-Key header here.
    openfeature.set_provider(OFREPProvider(base, headers_factory=lambda: {"X-API-Key": TEST_KEY}))
    yield openfeature.get_client()
    openfeature.clear_providers()


def test_sdk_evaluates_every_type_rules_rollouts_and_missing_flags(client):
    ctx = EvaluationContext(targeting_key="user-1", attributes={"country": "FR"})

    boolean = client.get_boolean_details("payments.live", False, ctx)
    assert (boolean.value, boolean.reason, boolean.variant) == (True, "STATIC", "default")
    assert boolean.error_code is None

    string = client.get_string_details("ui.theme", "none", ctx)
    assert (string.value, string.reason) == ("dark", "DEFAULT")
    match = client.get_string_details(
        "ui.theme", "none", EvaluationContext("user-1", {"country": "DE"})
    )
    assert (match.value, match.reason, match.variant) == ("light", "TARGETING_MATCH", "germany")

    integer = client.get_integer_details("limits.max_items", 0, ctx)
    assert integer.value == 5 and integer.error_code is None

    number = client.get_float_details("pricing.ratio", 0.0, ctx)
    assert number.value == 1.0 and isinstance(number.value, float) and number.error_code is None

    obj = client.get_object_details("ui.layout", {}, ctx)
    assert obj.value == {"columns": 2} and obj.flag_metadata == {"type": "object"}

    split = client.get_boolean_details("ab.everyone", False, ctx)
    assert (split.value, split.reason, split.variant) == (True, "SPLIT", "treatment")

    no_key = client.get_boolean_details("ab.everyone", False, EvaluationContext())
    assert no_key.value is False and no_key.error_code == ErrorCode.TARGETING_KEY_MISSING

    missing = client.get_boolean_details("no.such.flag", True, ctx)
    assert missing.value is True and missing.error_code == ErrorCode.FLAG_NOT_FOUND

    wrong_type = client.get_string_details("payments.live", "x", ctx)
    assert wrong_type.value == "x" and wrong_type.error_code == ErrorCode.TYPE_MISMATCH


@pytest.mark.django_db
def test_bulk_has_an_etag_and_answers_304(api):
    make_flags()
    body = {"context": {"targetingKey": "u1"}}
    first = api.post(URL, body, format="json")
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    flags = {f["key"]: f for f in first.json()["flags"]}
    assert flags["pricing.ratio"] == {
        "key": "pricing.ratio",
        "value": 1.0,
        "reason": "STATIC",
        "variant": "default",
        "metadata": {"type": "float"},
    }
    assert b'"value":1.0' in first.content  # a float flag stays a JSON float

    again = api.post(URL, body, format="json", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    listed = api.post(URL, body, format="json", HTTP_IF_NONE_MATCH=f'"other", W/{etag}')
    assert listed.status_code == 304

    services.flag_set(key="payments.live", actor="cli", value=False)
    changed = api.post(URL, body, format="json", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag

    other_user = api.post(URL, {"context": {}}, format="json")
    failures = [f for f in other_user.json()["flags"] if "errorCode" in f]
    assert failures == [
        {
            "key": "ab.everyone",
            "errorCode": "TARGETING_KEY_MISSING",
            "errorDetails": failures[0]["errorDetails"],
        }
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "PARSE_ERROR"),
        ("[1, 2]", "PARSE_ERROR"),
        ('{"context": [1]}', "INVALID_CONTEXT"),
        ('{"context": {"targetingKey": 42}}', "INVALID_CONTEXT"),
    ],
)
def test_bad_requests_use_the_ofrep_error_shape(api, raw, code):
    make_flags()
    single = api.post(f"{URL}/payments.live", raw, content_type="application/json")
    assert single.status_code == 400
    assert single.json() == {
        "key": "payments.live",
        "errorCode": code,
        "errorDetails": single.json()["errorDetails"],
    }
    assert single.json()["errorDetails"]
    bulk = api.post(URL, raw, content_type="application/json")
    assert bulk.status_code == 400 and bulk.json()["errorCode"] == code
    assert set(bulk.json()) == {"errorCode", "errorDetails"}


@pytest.mark.django_db
def test_no_body_no_context_and_not_found(api):
    make_flags()
    empty = api.post(f"{URL}/payments.live")
    assert empty.status_code == 200 and empty.json()["value"] is True
    no_context = api.post(f"{URL}/ui.theme", {"other": 1}, format="json")
    assert no_context.json()["reason"] == "DEFAULT"
    missing = api.post(f"{URL}/nope", {}, format="json")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "FLAG_NOT_FOUND" and missing.json()["key"] == "nope"
    services.flag_set(key="ui.theme", actor="cli", archived=True)
    assert api.post(f"{URL}/ui.theme", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_auth_errors_keep_the_api_body(anon, api, settings):
    make_flags()
    missing = anon.post(f"{URL}/payments.live", {}, format="json")
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    wrong = anon.post(URL, {}, format="json", HTTP_AUTHORIZATION="Bearer wrong-key-000000000")
    assert wrong.status_code == 401 and wrong.json()["ok"] is False
    bearer = anon.post(URL, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {TEST_KEY}")
    assert bearer.status_code == 200
    settings.DASHBOARD_KEY = ""
    unconfigured = api.post(f"{URL}/payments.live", {}, format="json")
    assert unconfigured.status_code == 503 and unconfigured.json()["error"] == "not_configured"


@pytest.mark.django_db
def test_throttled_is_429_with_integer_retry_after(api, settings):
    make_flags()
    settings.API_THROTTLE_RATE = "1/min"
    assert api.post(f"{URL}/payments.live", {}, format="json").status_code == 200
    limited = api.post(f"{URL}/payments.live", {}, format="json")
    assert limited.status_code == 429
    assert limited["Retry-After"].isdigit() and int(limited["Retry-After"]) >= 1
    assert limited.json()["errorCode"] == "GENERAL" and limited.json()["key"] == "payments.live"


@pytest.mark.django_db
def test_wrong_method_is_an_ofrep_error(api):
    response = api.get(f"{URL}/payments.live")
    assert response.status_code == 405 and response.json()["errorCode"] == "GENERAL"


def nested_context(depth: int) -> str:
    return '{"context": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        r'{"context": {"targetingKey": "\ud800"}}',
        r'{"context": {"targetingKey": "a\u0000b"}}',
        r'{"context": {"targetingKey": "u1", "tags": ["\udfff"]}}',
        r'{"context": {"targetingKey": "u1", "\ud800": 1}}',
        nested_context(40),
        nested_context(5000),  # past Python's recursion limit
    ],
)
def test_unusable_contexts_are_invalid_context_not_500(api, raw):
    make_flags()
    for url in (f"{URL}/ab.everyone", URL):
        response = api.post(url, raw, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["errorCode"] == "INVALID_CONTEXT"


@pytest.mark.django_db
def test_a_hand_stored_deep_value_does_not_break_bulk_evaluation(api):
    from flags.models import Flag

    make_flags()
    deep = 1
    for _ in range(870):
        deep = {"a": deep}
    Flag.objects.filter(key="ui.layout").update(value=deep)
    response = api.post(URL, {"context": {"targetingKey": "u1"}}, format="json")
    assert response.status_code == 200
    assert "ui.layout" not in {f["key"] for f in response.json()["flags"]}


@pytest.mark.django_db
def test_error_details_are_redacted(api):
    make_flags()
    response = api.post(f"{URL}/{TEST_KEY}", {}, format="json")
    assert response.status_code == 404
    assert TEST_KEY not in response.json()["errorDetails"]
    assert "***" in response.json()["errorDetails"]
