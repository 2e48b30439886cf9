"""The API: scan, list, acknowledge, resolve, silences, Alertmanager receiver."""

import pytest

from incidents.models import Incident, ReceivedAlert, Silence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_costs")]


def test_scan_endpoint_seed_shape(api, signals):
    signals.slo()
    signals.payout()
    signals.ops("high_cpu")
    response = api.post("/api/incidents/scan")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["breach"] is True and body["incident_count"] == 3
    assert body["details"][2] == "System warnings: high_cpu"
    assert body["severity"] == "HIGH" and body["dry_run"] is True
    assert set(body["sources"]) >= {"slo", "payout", "ops", "production_alerts", "cost"}
    assert Incident.objects.get().opened_by.startswith("api:k_")


def test_scan_refuses_unknown_fields_and_needs_a_key(api, anon):
    assert api.post("/api/incidents/scan", {"force": True}, format="json").status_code == 400
    assert anon.post("/api/incidents/scan").status_code == 401


def test_scan_with_every_source_broken_is_200_with_reasons(api, signals):
    signals.write("slo_report.json", "")
    signals.write("payout_recon.json", "{not json")
    signals.write("production_alerts.json", '{"active": {}}')
    signals.write("ops_sentinel.ndjson", "garbage\n\x00\x01\n")
    body = api.post("/api/incidents/scan").json()
    assert body["breach"] is False
    assert {k: v["status"] for k, v in body["sources"].items() if k != "cost"} == {
        "slo": "invalid",
        "payout": "invalid",
        "production_alerts": "invalid",
        "ops": "ok",
        "alertmanager": "ok",
        "self": "ok",
    }
    assert body["sources"]["ops"]["skipped_broken_lines"] == 2


def test_list_newest_first_with_filters(api, signals, clock):
    signals.slo()
    first = api.post("/api/incidents/scan").json()["incident_id"]
    api.post(f"/api/incidents/{first}/resolve")
    clock.advance(minutes=5)
    second = api.post("/api/incidents/scan").json()["incident_id"]
    body = api.get("/api/incidents").json()
    assert body["ok"] is True and body["count"] == 2
    assert [i["id"] for i in body["incidents"]] == [second, first]
    assert body["incidents"][0]["alerts"][0]["kind"] == "open"
    only_open = api.get("/api/incidents?status=open&limit=5").json()
    assert [i["id"] for i in only_open["incidents"]] == [second]
    assert api.get("/api/incidents?limit=1&format=json").json()["count"] == 1


@pytest.mark.parametrize("query", ["status=closed", "limit=0", "limit=abc", "limit=501", "x=1"])
def test_list_bad_query_is_400(api, query):
    response = api.get(f"/api/incidents?{query}")
    assert response.status_code == 400
    assert response.json()["ok"] is False


@pytest.mark.parametrize(
    "query", ["limit=7.0", "limit=%207", "limit=+7", "limit=7&limit=8", "status=open&status=open"]
)
def test_list_query_is_strict(api, query):
    """Only plain digits are a limit, and a parameter given twice is refused."""
    response = api.get(f"/api/incidents?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False and body["error"] == "invalid"
    assert api.get("/api/incidents?limit=7").status_code == 200


def test_ack_and_resolve_endpoints(api, signals):
    signals.slo()
    pk = api.post("/api/incidents/scan").json()["incident_id"]
    ack = api.post(f"/api/incidents/{pk}/ack")
    assert ack.status_code == 200
    assert ack.json()["incident"]["status"] == "acknowledged"
    assert ack.json()["incident"]["acknowledged_by"].startswith("api:")
    resolved = api.post(f"/api/incidents/{pk}/resolve")
    assert resolved.json()["incident"]["status"] == "resolved"
    conflict = api.post(f"/api/incidents/{pk}/ack")
    assert conflict.status_code == 409 and conflict.json()["error"] == "conflict"
    missing = api.post("/api/incidents/9999/ack")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_incident"
    assert api.post(f"/api/incidents/{pk}/resolve", {"x": 1}, format="json").status_code == 400


def test_error_bodies_keep_their_shape(api, signals, clock):
    """The domain errors the services raise reach the client exactly as before."""
    missing = api.post("/api/incidents/9999/resolve")
    assert (missing.status_code, missing.json()) == (
        404,
        {"ok": False, "error": "unknown_incident", "detail": "No incident with id 9999."},
    )
    signals.slo()
    pk = api.post("/api/incidents/scan").json()["incident_id"]
    api.post(f"/api/incidents/{pk}/resolve")
    conflict = api.post(f"/api/incidents/{pk}/ack")
    assert (conflict.status_code, conflict.json()) == (
        409,
        {"ok": False, "error": "conflict", "detail": f"Incident {pk} is already resolved."},
    )
    far = api.post(
        "/api/incidents/silences", {"key": "slo", "until": "2036-01-06T00:00:00Z"}, format="json"
    )
    assert (far.status_code, far.json()) == (
        400,
        {"ok": False, "error": "invalid", "detail": "'until' must be at most 3650 days ahead."},
    )
    bad_key = api.post(
        "/api/incidents/silences", {"key": "nope", "until": "2026-01-05T14:00:00Z"}, format="json"
    )
    assert bad_key.status_code == 400
    assert set(bad_key.json()) == {"ok", "error", "detail"}  # the field is the admin's, not here
    payload = api.post("/api/incidents/alertmanager", {"version": "3", "alerts": []}, format="json")
    assert (payload.status_code, payload.json()) == (
        400,
        {
            "ok": False,
            "error": "invalid",
            "detail": "Unsupported Alertmanager webhook version '3': expected \"4\".",
        },
    )


def test_create_and_list_silences(api, clock):
    response = api.post(
        "/api/incidents/silences",
        {"key": "ops:high_cpu", "until": "2026-01-05T14:00:00Z", "reason": "load test"},
        format="json",
    )
    assert response.status_code == 201
    silence = response.json()["silence"]
    assert silence["key"] == "ops:high_cpu" and silence["until"] == "2026-01-05T14:00:00Z"
    assert silence["created_by"].startswith("api:")
    listed = api.get("/api/incidents/silences").json()
    assert listed["count"] == 1 and listed["silences"][0]["reason"] == "load test"
    assert Silence.objects.get().until.isoformat() == "2026-01-05T14:00:00+00:00"


@pytest.mark.parametrize(
    "body",
    [
        {"key": "ops:high_cpu"},
        {"key": "nope", "until": "2026-01-05T14:00:00Z"},
        {"key": "slo", "until": "2026-01-05T11:00:00Z"},  # in the past
        {"key": "slo", "until": "tomorrow"},
        {"key": "slo", "until": 1767614400},
        {"key": 5, "until": "2026-01-05T14:00:00Z"},
        {"key": "slo", "until": "2026-01-05T14:00:00Z", "extra": 1},
        {"key": "slo", "until": "9999-12-31T23:59:59-05:00"},  # past year 9999 in UTC
        {"key": "slo", "until": "9999-12-31T23:59:59Z"},
        {"key": "slo", "until": "2036-01-06T00:00:00Z"},  # more than 3650 days ahead
    ],
)
def test_bad_silence_is_400(api, clock, body):
    response = api.post("/api/incidents/silences", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["ok"] is False


def am_payload(status="firing", name="HighErrorRate", severity="critical", fingerprint="abc1"):
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "echopilot",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "severity": severity},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "severity": severity, "instance": "web-1"},
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": "2026-01-05T11:50:00Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-05T12:10:00Z",
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


def test_alertmanager_firing_opens_and_resolved_resolves(api, clock):
    response = api.post("/api/incidents/alertmanager", am_payload(), format="json")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "stored": 1, "removed": 0, "ignored": 0}
    opened = api.post("/api/incidents/scan").json()
    assert opened["details"] == ["Production alert: HighErrorRate"]
    assert opened["incident_status"] == "open"
    assert opened["sources"]["alertmanager"]["firing_critical"] == 1

    clock.advance(minutes=5)
    done = api.post("/api/incidents/alertmanager", am_payload("resolved"), format="json")
    assert done.json()["removed"] == 1
    assert ReceivedAlert.objects.count() == 0
    resolved = api.post("/api/incidents/scan").json()
    assert resolved["breach"] is False and resolved["incident_status"] == "resolved"
    assert resolved["incident_id"] == opened["incident_id"]


def test_alertmanager_times_are_stored_in_utc(api, clock):
    payload = am_payload()
    payload["alerts"][0]["startsAt"] = "2026-01-05T06:50:00-05:00"
    payload["alerts"][0]["endsAt"] = "9999-12-31T23:59:59Z"  # the latest time that fits
    response = api.post("/api/incidents/alertmanager", payload, format="json")
    assert response.status_code == 200, response.content
    stored = ReceivedAlert.objects.get()
    assert stored.starts_at.isoformat() == "2026-01-05T11:50:00+00:00"
    assert stored.ends_at.year == 9999
    assert api.post("/api/incidents/scan").json()["details"] == ["Production alert: HighErrorRate"]


def test_alertmanager_ignores_non_critical(api):
    body = api.post(
        "/api/incidents/alertmanager", am_payload(severity="warning"), format="json"
    ).json()
    assert body == {"ok": True, "stored": 0, "removed": 0, "ignored": 1}
    assert api.post("/api/incidents/scan").json()["breach"] is False


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(version=4),
        lambda p: p.update(version="3"),
        lambda p: p.pop("alerts"),
        lambda p: p.update(alerts={"a": 1}),
        lambda p: p["alerts"][0].update(status="pending"),
        lambda p: p["alerts"][0]["labels"].pop("alertname"),
        lambda p: p["alerts"][0].update(labels=["x"]),
        lambda p: p["alerts"][0].update(startsAt="yesterday"),
        lambda p: p["alerts"].append("oops"),
        lambda p: p["alerts"][0].update(endsAt="9999-12-31T23:59:59-05:00"),
        lambda p: p["alerts"][0].update(startsAt="9999-12-31T23:59:59-05:00"),
    ],
)
def test_alertmanager_bad_payload_is_400(api, mutate):
    payload = am_payload()
    mutate(payload)
    response = api.post("/api/incidents/alertmanager", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert ReceivedAlert.objects.count() == 0


def test_alertmanager_not_json_object(api):
    response = api.post("/api/incidents/alertmanager", [1, 2], format="json")
    assert response.status_code == 400
    broken = api.post("/api/incidents/alertmanager", "{nope", content_type="application/json")
    assert broken.status_code == 400


def test_alertmanager_accepts_bearer_auth(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer test-key-0123456789abcdef")
    response = anon.post("/api/incidents/alertmanager", am_payload(), format="json")
    assert response.status_code == 200


def test_schema_lists_the_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    for path in (
        "/api/incidents",
        "/api/incidents/scan",
        "/api/incidents/{id}/ack",
        "/api/incidents/{id}/resolve",
        "/api/incidents/silences",
        "/api/incidents/alertmanager",
    ):
        assert path in schema["paths"], path
