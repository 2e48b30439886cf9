"""The seed API contract and its bad-input answers."""

import json

import pytest

from flags.models import Flag, FlagChange
from tests.conftest import TEST_KEY, read_ndjson
from tests.flags.conftest import SEED

pytestmark = pytest.mark.django_db


def test_get_returns_every_served_default(api, seeded):
    response = api.get("/api/flags/get")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "count": 5, "flags": SEED}


def test_get_needs_the_key_and_takes_bearer_and_x_api_key(anon, seeded):
    assert anon.get("/api/flags/get").status_code == 401
    bearer = anon.get("/api/flags/get", HTTP_AUTHORIZATION=f"Bearer {TEST_KEY}")
    api_key = anon.get("/api/flags/get", HTTP_X_API_KEY=TEST_KEY)
    assert bearer.status_code == api_key.status_code == 200


def test_set_contract_and_history(api, seeded, log_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/flags/set", {"key": "ui.new_dashboard", "value": True}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("ok", "key", "value", "previous")} == {
        "ok": True,
        "key": "ui.new_dashboard",
        "value": True,
        "previous": False,
    }
    assert api.get("/api/flags/get").json()["flags"]["ui.new_dashboard"] is True

    history = api.get("/api/flags/history?key=ui.new_dashboard").json()
    assert history["ok"] is True and history["count"] == 2
    newest = history["history"][0]
    assert set(newest) == {
        "id",
        "key",
        "field",
        "old",
        "new",
        "actor",
        "source",
        "ts_iso",
        "reverts",
    }
    assert (newest["field"], newest["old"], newest["new"], newest["source"]) == (
        "value",
        False,
        True,
        "api",
    )
    assert newest["actor"].startswith("api:k_") and newest["ts_iso"].endswith("Z")
    assert history["history"][1]["field"] == "created"
    assert read_ndjson(log_dir, "feature_flags")[-1]["id"] == newest["id"]


def test_history_without_key_lists_all_flags_newest_first_with_limit(api, seeded):
    everything = api.get("/api/flags/history").json()
    assert everything["count"] == 5
    ids = [row["id"] for row in everything["history"]]
    assert ids == sorted(ids, reverse=True)
    assert api.get("/api/flags/history?limit=2").json()["count"] == 2
    assert api.get("/api/flags/history?key=&limit=").json()["count"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=x",
        "bogus=1",
        "limit=1.0",
        "limit=+5",
        "limit=%205",
        "limit=1e2",
        "limit=5&limit=6",
    ],
)
def test_history_bad_query_is_400(api, seeded, query):
    response = api.get(f"/api/flags/history?{query}")
    assert response.status_code == 400 and response.json()["error"] == "invalid"


def test_history_of_unknown_key_is_404(api, seeded):
    response = api.get("/api/flags/history?key=nope")
    assert response.status_code == 404 and response.json()["error"] == "unknown_flag"


def test_create_needs_create_true_and_answers_201(api, seeded):
    missing = api.post("/api/flags/set", {"key": "ui.typo", "value": True}, format="json")
    assert missing.status_code == 404
    assert missing.json()["ok"] is False and missing.json()["error"] == "unknown_flag"
    created = api.post(
        "/api/flags/set", {"key": "ui.typo", "value": True, "create": True}, format="json"
    )
    assert created.status_code == 201 and created.json()["previous"] is None
    assert api.get("/api/flags/get").json()["count"] == 6


def test_type_change_needs_retype(api, seeded):
    body = {"key": "payments.live", "value": "yes"}
    refused = api.post("/api/flags/set", body, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "type_mismatch"
    accepted = api.post("/api/flags/set", {**body, "retype": True}, format="json")
    assert accepted.status_code == 200 and accepted.json()["type"] == "string"


def test_everything_the_admin_changes_the_api_changes(api, seeded):
    body = {
        "key": "ab.pricing_v2",
        "description": "Pricing v2",
        "rules": [
            {
                "name": "de",
                "conditions": [{"attribute": "country", "op": "eq", "value": "DE"}],
                "value": True,
            }
        ],
        "rollout": {"percentage": 25, "value": True},
        "enabled": False,
        "archived": True,
    }
    response = api.post("/api/flags/set", body, format="json")
    assert response.status_code == 200
    assert response.json()["changed"] == ["rules", "rollout", "enabled", "archived", "description"]
    flag = Flag.objects.get(key="ab.pricing_v2")
    assert flag.rollout == {"percentage": 25, "value": True, "name": "rollout"}
    # Archived: gone from /api/flags/get and not found for evaluation.
    assert "ab.pricing_v2" not in api.get("/api/flags/get").json()["flags"]
    evaluated = api.post("/api/flags/evaluate", {"key": "ab.pricing_v2"}, format="json")
    assert evaluated.status_code == 404


def test_evaluate_endpoint(api, seeded):
    api.post(
        "/api/flags/set",
        {
            "key": "ui.new_dashboard",
            "rules": [
                {
                    "name": "staff",
                    "conditions": [{"attribute": "staff", "op": "eq", "value": True}],
                    "value": True,
                }
            ],
        },
        format="json",
    )
    hit = api.post(
        "/api/flags/evaluate",
        {"key": "ui.new_dashboard", "context": {"staff": True}},
        format="json",
    ).json()
    assert hit == {
        "ok": True,
        "key": "ui.new_dashboard",
        "value": True,
        "variant": "staff",
        "reason": "TARGETING_MATCH",
    }


def test_revert_endpoint(api, seeded):
    changed = api.post("/api/flags/set", {"key": "payments.live", "value": False}, format="json")
    row_id = changed.json()["history"][0]["id"]
    reverted = api.post("/api/flags/revert", {"id": row_id}, format="json")
    assert reverted.status_code == 200 and reverted.json()["value"] is True
    # The history names the row a revert undid; the other rows revert nothing.
    rows = api.get("/api/flags/history?key=payments.live").json()["history"]
    assert [(r["id"] == row_id, r["reverts"]) for r in rows[:2]] == [(False, row_id), (True, None)]
    assert rows[0]["source"] == "api" and (rows[0]["old"], rows[0]["new"]) == (False, True)
    assert api.post("/api/flags/revert", {"id": "1"}, format="json").status_code == 400
    missing = api.post("/api/flags/revert", {"id": 10**9}, format="json")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_change"


def test_list_endpoint_shows_everything(api, seeded):
    body = api.get("/api/flags/list").json()
    assert body["count"] == 5
    assert body["flags"][0]["key"] == "ab.pricing_v2"
    assert {"type", "rules", "rollout", "enabled", "archived", "updated_by"} <= set(
        body["flags"][0]
    )


BAD_OBJECTS = [
    ({"key": "payments.live", "value": 1}, 400, "type_mismatch"),
    ({"key": "payments.live", "value": None}, 400, "invalid"),
    ({"key": "payments.live", "value": True, "color": "red"}, 400, "invalid"),
    ({"key": "payments.live", "create": "true", "value": True}, 400, "invalid"),
    ({"key": "has space", "value": True, "create": True}, 400, "invalid"),
    ({"key": "k" * 101, "value": True, "create": True}, 400, "invalid"),
    ({"key": 5, "value": True}, 400, "invalid"),
    ({"key": "nope", "value": True}, 404, "unknown_flag"),
    (
        {
            "key": "payments.live",
            "rules": [
                {"conditions": [{"attribute": "a", "op": "like", "value": 1}], "value": True}
            ],
        },
        400,
        "invalid",
    ),
    (
        {
            "key": "payments.live",
            "rules": [{"conditions": [{"op": "eq", "value": 1}], "value": True}],
        },
        400,
        "invalid",
    ),
    ({"key": "payments.live", "rollout": {"percentage": 101, "value": True}}, 400, "invalid"),
    ({"key": "payments.live", "rollout": {"percentage": -1, "value": True}}, 400, "invalid"),
    ({"key": "payments.live", "rollout": {"percentage": 5, "value": "x"}}, 400, "type_mismatch"),
    ({"key": "payments.live", "enabled": 1}, 400, "invalid"),
    ({"key": "payments.live", "type": "date", "value": True}, 400, "invalid"),
]


# Bodies that are not JSON objects: malformed JSON is `parse_error`, valid JSON of
# another shape `invalid`.
NOT_OBJECTS = [
    ("[]", 400, "invalid"),
    ("[1, 2]", 400, "invalid"),
    ('"x"', 400, "invalid"),
    ("1", 400, "invalid"),
    ("null", 400, "invalid"),
    ("{bad json", 400, "parse_error"),
]
BAD = [(json.dumps(body), status, code) for body, status, code in BAD_OBJECTS] + NOT_OBJECTS


def all_flags():
    return list(
        Flag.objects.order_by("key").values_list(
            "key", "type", "value", "rules", "rollout", "enabled", "archived", "description"
        )
    )


@pytest.mark.parametrize(("raw", "status", "code"), BAD)
def test_bad_input_stores_and_mirrors_nothing(
    api, seeded, log_dir, django_capture_on_commit_callbacks, raw, status, code
):
    before, flags_before = FlagChange.objects.count(), all_flags()
    lines_before = read_ndjson(log_dir, "feature_flags")
    # Commit callbacks run as a commit would: a stored change would reach the mirror.
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/flags/set", raw, content_type="application/json")
    assert response.status_code == status, response.content
    assert response.json()["ok"] is False and response.json()["error"] == code
    assert FlagChange.objects.count() == before
    assert all_flags() == flags_before
    assert read_ndjson(log_dir, "feature_flags") == lines_before


def test_an_integral_float_sets_an_integer_flag(api, seeded):
    api.post("/api/flags/set", {"key": "n", "value": 3, "create": True}, format="json")
    response = api.post("/api/flags/set", {"key": "n", "value": 4.0}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["value"] == 4 and b'"value":4,' in response.content.replace(b" ", b"")
    assert Flag.objects.get(key="n").value == 4


def nested_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HUGE = "1" + "0" * 400  # past a float's range
SET = '{"key": "ui.new_dashboard", '


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (SET + f'"value": {HUGE}, "type": "float", "retype": true}}', "type_mismatch"),
        (SET + f'"rollout": {{"percentage": {HUGE}, "value": true}}}}', "invalid"),
        (SET + f'"value": {nested_json(40)}, "retype": true}}', "invalid"),
    ],
)
def test_huge_and_deep_values_are_400_not_500(api, seeded, raw, code):
    response = api.post("/api/flags/set", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code
    assert Flag.objects.get(key="ui.new_dashboard").value is False


@pytest.mark.parametrize("text", [r"\ud800", r"\u0000"])
def test_unstorable_strings_are_400_on_set_and_evaluate(api, seeded, text):
    api.post(
        "/api/flags/set",
        {"key": "ab.pricing_v2", "rollout": {"percentage": 50, "value": True}},
        format="json",
    )
    bad_set = api.post(
        "/api/flags/set",
        f'{{"key": "ui.theme", "value": "a{text}b", "create": true}}',
        content_type="application/json",
    )
    assert bad_set.status_code == 400 and bad_set.json()["ok"] is False
    assert not Flag.objects.filter(key="ui.theme").exists()
    evaluated = api.post(
        "/api/flags/evaluate",
        f'{{"key": "ab.pricing_v2", "context": {{"targetingKey": "u{text}"}}}}',
        content_type="application/json",
    )
    assert evaluated.status_code == 400 and evaluated.json()["ok"] is False


def test_a_revert_that_no_longer_fits_is_409(api, seeded):
    rules = [{"name": "r", "conditions": [{"attribute": "a", "op": "eq", "value": 1}], "value": 5}]
    api.post("/api/flags/set", {"key": "n", "value": 1, "create": True, "rules": rules}, "json")
    row = api.post("/api/flags/set", {"key": "n", "rules": []}, "json").json()["history"][0]
    api.post("/api/flags/set", {"key": "n", "value": "x", "retype": True}, format="json")
    response = api.post("/api/flags/revert", {"id": row["id"]}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert (body["ok"], body["error"]) == (False, "revert_conflict")
    assert body["detail"].startswith(f"History row {row['id']} cannot be restored")
    assert Flag.objects.get(key="n").rules == []


def test_unknown_flag_on_set_names_the_key(api, seeded):
    response = api.post("/api/flags/set", {"key": "ui.typo", "value": True}, format="json")
    assert response.json() == {
        "ok": False,
        "error": "unknown_flag",
        "detail": "No flag 'ui.typo'; send \"create\": true to create it.",
        "key": "ui.typo",
    }


def test_description_limit(api, seeded):
    from flags.limits import DESCRIPTION_MAX

    longest = {"key": "payments.live", "description": "d" * DESCRIPTION_MAX}
    assert api.post("/api/flags/set", longest, format="json").status_code == 200
    too_long = {"key": "payments.live", "description": "d" * (DESCRIPTION_MAX + 1)}
    response = api.post("/api/flags/set", too_long, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert str(DESCRIPTION_MAX) in response.json()["detail"]


def test_history_key_longer_than_any_key_is_404_up_to_the_query_bound(api, seeded):
    from flags.limits import HISTORY_KEY_QUERY_MAX, KEY_MAX_LENGTH

    no_such = api.get(f"/api/flags/history?key={'k' * (KEY_MAX_LENGTH + 1)}")
    assert no_such.status_code == 404 and no_such.json()["error"] == "unknown_flag"
    too_long = api.get(f"/api/flags/history?key={'k' * (HISTORY_KEY_QUERY_MAX + 1)}")
    assert too_long.status_code == 400 and too_long.json()["error"] == "invalid"


def test_evaluate_failures_carry_the_openfeature_code(api, seeded):
    api.post(
        "/api/flags/set",
        {"key": "ab.pricing_v2", "rollout": {"percentage": 50, "value": True}},
        format="json",
    )
    missing_key = api.post("/api/flags/evaluate", {"key": "ab.pricing_v2"}, format="json")
    assert missing_key.status_code == 400
    assert missing_key.json()["error"] == "targeting_key_missing"
    not_string = api.post(
        "/api/flags/evaluate",
        {"key": "ab.pricing_v2", "context": {"targetingKey": 5}},
        format="json",
    )
    assert not_string.status_code == 400 and not_string.json()["error"] == "invalid_context"
    unknown = api.post("/api/flags/evaluate", {"key": "ui.typo"}, format="json")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error": "unknown_flag", "detail": "No flag 'ui.typo'."}


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**73])
def test_integers_past_what_json_clients_read_exactly_are_refused(api, value):
    body = f'{{"key": "limits.max", "value": {value}, "type": "integer", "create": true}}'
    response = api.post("/api/flags/set", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "2^53 - 1" in response.json()["detail"]
    assert not Flag.objects.filter(key="limits.max").exists()


@pytest.mark.parametrize("value", [2**53 - 1, -(2**53 - 1)])
def test_the_largest_safe_integers_are_kept_exactly(api, value):
    body = f'{{"key": "limits.max", "value": {value}, "type": "integer", "create": true}}'
    assert api.post("/api/flags/set", body, content_type="application/json").status_code == 201
    assert api.get("/api/flags/get").json()["flags"]["limits.max"] == value
