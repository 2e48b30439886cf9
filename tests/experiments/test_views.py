"""The HTTP API: the seed contract, the error format, and nothing stored on bad input."""

import json

import pytest

from experiments import services
from experiments.models import Event, Exposure
from tests.conftest import read_ndjson


def test_assign_seed_contract(api, seeded):
    r = api.get("/api/exp/assign", {"user": "user123", "exp": "pricing_v2"})
    assert r.status_code == 200
    assert r.json() == {
        "ok": True,
        "user": "user123",
        "experiment": "pricing_v2",
        "variant": "A",
        "description": "Test new pricing page design",
    }
    r = api.get("/api/exp/assign", {"user": "alice", "exp": "onboarding_flow"})
    assert r.json()["variant"] == "guided"
    assert Exposure.objects.count() == 2


def test_log_seed_contract(api, seeded):
    body = {"event": "conversion", "user": "user123", "exp": "pricing_v2", "variant": "A"}
    r = api.post("/api/exp/log", body, format="json")
    assert r.status_code == 200
    data = r.json()
    assert data["ok"] is True and data["stored"] == 1
    assert (data["experiment"], data["user"], data["variant"]) == ("pricing_v2", "user123", "A")
    assert Event.objects.get().event == "conversion"


def test_log_batch_and_first_bad_index(api, seeded):
    ok = [{"event": "buy", "user": f"u{i}", "exp": "pricing_v2", "value": 1.5} for i in range(5)]
    r = api.post("/api/exp/log", ok, format="json")
    assert r.status_code == 200 and r.json()["stored"] == 5
    bad = ok + [{"event": "buy", "user": "u9", "exp": "pricing_v2", "value": "1.5"}]
    r = api.post("/api/exp/log", bad, format="json")
    assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and body["error"] == "invalid" and body["index"] == 5
    assert "value" in body["detail"]
    r = api.post("/api/exp/log", [*ok, "nope"], format="json")
    assert r.status_code == 400 and r.json()["index"] == 5
    r = api.post("/api/exp/log", ok * 201, format="json")
    assert r.status_code == 400 and r.json()["error"] == "batch_too_large"
    assert Event.objects.count() == 5


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"exp": "pricing_v2"}, 400, "invalid"),
        ({"user": "u"}, 400, "invalid"),
        ({"user": "u", "exp": "nope"}, 404, "unknown_experiment"),
        ({"user": "", "exp": "pricing_v2"}, 400, "invalid"),
        ({"user": "  ", "exp": "pricing_v2"}, 400, "invalid"),
        ({"user": "x" * 201, "exp": "pricing_v2"}, 400, "invalid"),
        ({"user": "u", "exp": "pricing_v2", "extra": "1"}, 400, "invalid"),
    ],
)
def test_assign_bad_input(api, seeded, log_dir, params, status, code):
    r = api.get("/api/exp/assign", params)
    assert r.status_code == status
    assert r.json()["ok"] is False and r.json()["error"] == code and r.json()["detail"]
    assert not Exposure.objects.exists()
    assert [x for x in read_ndjson(log_dir, "experiments") if x["type"] != "experiment"] == []


BASE = {"event": "conversion", "user": "user123", "exp": "pricing_v2"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**BASE, "variant": "B"}, 409, "variant_mismatch"),
        ({**BASE, "variant": "Z"}, 400, "unknown_variant"),
        ({**BASE, "exp": "nope"}, 404, "unknown_experiment"),
        ({**BASE, "event": "bad name!"}, 400, "invalid"),
        ({**BASE, "value": "12"}, 400, "invalid"),
        ({**BASE, "value": None, "user": 7}, 400, "invalid"),
        ({**BASE, "colour": "red"}, 400, "invalid"),
        ({"user": "u", "exp": "pricing_v2"}, 400, "invalid"),
        ("just a string", 400, "invalid"),
        ({**BASE, "event": "conversion\n"}, 400, "invalid"),
        ({**BASE, "event": " conversion "}, 400, "invalid"),
        ({**BASE, "exp": " pricing_v2"}, 404, "unknown_experiment"),
        ({**BASE, "exp": "pricing_v2\n"}, 404, "unknown_experiment"),
        ({**BASE, "variant": "A "}, 400, "unknown_variant"),
        ({**BASE, "value": 1e16}, 400, "invalid"),
        ([BASE, {**BASE, "value": -1e16}], 400, "invalid"),
    ],
)
def test_log_bad_input(api, seeded, log_dir, committed, body, status, code):
    with committed():  # the mirror writes on commit: run those callbacks as a commit would
        r = api.post("/api/exp/log", body, format="json")
    assert r.status_code == status, r.json()
    assert r.json()["error"] == code
    assert not Event.objects.exists() and not Exposure.objects.exists()
    assert [x for x in read_ndjson(log_dir, "experiments") if x["type"] != "experiment"] == []


def test_log_good_input_is_mirrored(api, seeded, log_dir, committed):
    # The counterpart of test_log_bad_input: the mirror check there can fail.
    with committed():
        r = api.post("/api/exp/log", BASE, format="json")
    assert r.status_code == 200
    assert [x["type"] for x in read_ndjson(log_dir, "experiments")][-2:] == ["exposure", "event"]


@pytest.mark.parametrize(
    ("batch", "status", "code"),
    [
        ([{**BASE, "exp": "nope"}, {**BASE, "event": "bad name"}], 404, "unknown_experiment"),
        ([{**BASE, "variant": "B"}, {**BASE, "colour": "red"}], 409, "variant_mismatch"),
        ([{**BASE, "variant": "Z"}, "not an object"], 400, "unknown_variant"),
    ],
)
def test_log_batch_reports_the_first_bad_event(api, seeded, batch, status, code):
    r = api.post("/api/exp/log", batch, format="json")
    assert (r.status_code, r.json()["error"], r.json()["index"]) == (status, code, 0)
    assert r.json()["detail"].startswith("event 0:")
    assert not Event.objects.exists() and not Exposure.objects.exists()


def test_log_batch_paused_reports_not_exposed_first(api, seeded):
    api.get("/api/exp/assign", {"user": "bob", "exp": "pricing_v2"})  # bob -> B
    services.experiment_set_status(key="pricing_v2", status="paused", actor="t")
    batch = [{**BASE, "user": "nobody"}, {**BASE, "user": "bob", "variant": "A"}]
    r = api.post("/api/exp/log", batch, format="json")
    assert (r.status_code, r.json()["error"], r.json()["index"]) == (409, "not_exposed", 0)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/exp/assign", "user=u&exp=pricing_v2&exp=onboarding_flow"),
        ("/api/exp/assign", "user=u&user=v&exp=pricing_v2"),
        ("/api/exp/results", "exp=pricing_v2&event=conversion&event=buy"),
    ],
)
def test_repeated_query_parameters_are_refused(api, seeded, path, query):
    r = api.get(f"{path}?{query}")
    assert r.status_code == 400 and r.json()["error"] == "invalid"
    assert "more than once" in r.json()["detail"]
    assert not Exposure.objects.exists()


def test_results_event_with_newline_is_refused(api, seeded):
    r = api.get("/api/exp/results", {"exp": "pricing_v2", "event": "conversion\n"})
    assert r.status_code == 400 and r.json()["error"] == "invalid"


def test_variant_mismatch_body_names_expected(api, seeded):
    r = api.post("/api/exp/log", {**BASE, "variant": "B"}, format="json")
    assert r.json()["expected"] == "A" and "'A'" in r.json()["detail"]


def test_results_endpoint(api, seeded):
    api.get("/api/exp/assign", {"user": "user123", "exp": "pricing_v2"})
    api.get("/api/exp/assign", {"user": "bob", "exp": "pricing_v2"})
    api.post("/api/exp/log", {**BASE, "value": 20}, format="json")
    r = api.get("/api/exp/results", {"exp": "pricing_v2", "event": "conversion"})
    assert r.status_code == 200
    data = r.json()
    # The published shape, plus fields added by the sequential-testing issue.
    assert set(data) == {"ok", "experiment", "event", "status", "variants", "srm"} | {
        "analysis", "planned_users", "progress", "eta_days"
    }  # fmt: skip
    a, b = data["variants"]
    assert set(a) == {
        "variant", "users", "converters", "rate", "rate_ci", "uplift_abs", "uplift_abs_ci",
        "uplift_rel", "uplift_rel_ci", "p_value", "prob_beat_control", "mean_value",
    } | {
        "significant", "uplift_abs_seq_ci", "significant_seq", "mean_value_ci", "value_uplift",
        "value_uplift_ci",
    }  # fmt: skip
    assert (data["analysis"], data["planned_users"], data["progress"]) == (
        "sequential",
        5000,
        2 / 5000,
    )
    assert (a["variant"], a["users"], a["converters"], a["mean_value"]) == ("A", 1, 1, 20.0)
    assert (b["variant"], b["users"], b["converters"], b["rate"]) == ("B", 1, 0, 0.0)
    assert b["uplift_rel"] == -1.0 and b["p_value"] is not None
    assert set(data["srm"]) == {"chi2", "p_value", "srm"}
    # Default event is "conversion"; a bad event name is 400; unknown experiment 404.
    assert api.get("/api/exp/results", {"exp": "pricing_v2"}).json()["event"] == "conversion"
    assert api.get("/api/exp/results", {"exp": "pricing_v2", "event": "a b"}).status_code == 400
    assert api.get("/api/exp/results", {"exp": "x"}).json()["error"] == "unknown_experiment"


def test_control_rate_zero_renders_null(api, seeded):
    api.get("/api/exp/assign", {"user": "user123", "exp": "pricing_v2"})  # A
    api.post("/api/exp/log", {**BASE, "user": "bob"}, format="json")  # B converts
    r = api.get("/api/exp/results", {"exp": "pricing_v2"})
    assert b"NaN" not in r.content and b"Infinity" not in r.content
    b = r.json()["variants"][1]
    assert b["uplift_rel"] is None and b["uplift_rel_ci"] is None and b["uplift_abs"] == 1.0


def test_key_required(anon, seeded):
    for r in [
        anon.get("/api/exp/assign", {"user": "u", "exp": "pricing_v2"}),
        anon.post("/api/exp/log", BASE, format="json"),
        anon.get("/api/exp/results", {"exp": "pricing_v2"}),
    ]:
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert not Exposure.objects.exists()


def test_schema_documents_the_endpoints(api):
    r = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    schema = json.loads(r.content)
    for path in ("/api/exp/assign", "/api/exp/log", "/api/exp/results"):
        assert path in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/exp/assign"]["get"]["parameters"]}
    assert {"user", "exp"} <= params


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event": "c", "user": "a\\u0000b", "exp": "pricing_v2"}',
        b'{"event": "c", "user": "\\ud800", "exp": "pricing_v2"}',
        b'{"event": "c", "user": "u", "exp": "pricing_v2", "value": 1' + b"0" * 400 + b"}",
        b'{"event": "c", "user": "u", "exp": "pricing\\u0000v2"}',
    ],
)
def test_hostile_text_and_numbers_are_400_or_404_not_500(api, seeded, raw):
    r = api.generic("POST", "/api/exp/log", raw, content_type="application/json")
    assert r.status_code in (400, 404), r.content
    assert r.json()["ok"] is False
    assert not Event.objects.exists()


def test_nul_in_query_parameters(api, seeded):
    r = api.get("/api/exp/assign", {"user": "u", "exp": "pricing\x00v2"})
    assert r.status_code == 404 and r.json()["error"] == "unknown_experiment"
    r = api.get("/api/exp/assign", {"user": "a\x00b", "exp": "pricing_v2"})
    assert r.status_code == 400
    r = api.get("/api/exp/results", {"exp": "pricing\x00v2"})
    assert r.status_code == 404


def test_parse_errors_name_the_field_and_index_only_in_a_batch(api, seeded):
    r = api.post("/api/exp/log", {**BASE, "colour": "red"}, format="json")
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error": "invalid", "detail": "colour: Unknown field."}
    r = api.post("/api/exp/log", [BASE, {**BASE, "colour": "red"}], format="json")
    assert r.status_code == 400
    assert r.json() == {
        "ok": False,
        "error": "invalid",
        "detail": "event 1: colour: Unknown field.",
        "index": 1,
    }
    r = api.post("/api/exp/log", [], format="json")
    assert (r.status_code, r.json()["error"]) == (400, "invalid")
    assert "empty" in r.json()["detail"]
    assert not Event.objects.exists() and not Exposure.objects.exists()


def test_error_body_carries_the_index_then_the_expected_variant(api, seeded):
    r = api.post("/api/exp/log", [BASE, {**BASE, "variant": "B"}], format="json")
    assert r.status_code == 409
    assert list(r.json()) == ["ok", "error", "detail", "index", "expected"]
    assert (r.json()["index"], r.json()["expected"]) == (1, "A")
