"""Bounded work: the sentinel scan reads a byte budget, an Alertmanager payload is capped."""

import os

import pytest

from incidents import sources
from incidents.alertmanager import MAX_ALERTS
from incidents.models import ReceivedAlert
from incidents.serializers import AlertmanagerWebhookSerializer
from tests.incidents.test_views import am_payload

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def broken_sentinel(path, size: int, tail: int) -> None:
    """A `size`-byte sentinel file whose last `tail` bytes are `{}` lines (no
    time, so nothing ends the walk), the rest a hole: written in well under a second."""
    with path.open("wb") as fh:
        fh.truncate(size - tail)
        fh.seek(size - tail)
        fh.write(b"{}\n" * (tail // 3))


def test_100_mb_of_broken_lines_is_scanned_within_the_budget(api, signals, no_costs):
    path = signals.path("ops_sentinel.ndjson")
    broken_sentinel(path, 100 * MB, 12 * MB)
    assert os.path.getsize(path) >= 99 * MB

    ops = api.post("/api/incidents/scan").json()["sources"]["ops"]

    assert ops["status"] == "ok"
    assert ops["truncated"] is True
    assert "line budget of 100000 lines" in ops["truncated_reason"]
    assert ops["bytes_read"] <= 8 * MB
    assert ops["skipped_broken_lines"] == 100_000


def test_the_budget_is_a_setting_and_a_short_walk_is_not_truncated(settings, signals, clock):
    path = signals.path("ops_sentinel.ndjson")
    # Long broken lines, so the byte budget runs out before the line budget.
    path.write_bytes((b"{" + b" " * 200 + b"}\n") * (4 * MB // 203))
    settings.INCIDENT_OPS_SENTINEL_MAX_BYTES = 1 * MB
    report: dict = {}
    sources.read_ops_sentinel(path, clock(), report)
    assert report["truncated"] is True and report["bytes_read"] == 1 * MB
    assert "read budget of 1048576 bytes" in report["truncated_reason"]

    path.unlink()
    signals.ops("disk_full")
    report = {}
    assert sources.read_ops_sentinel(path, clock(), report)[0].keys == ["ops:disk_full"]
    assert report["truncated"] is False and "truncated_reason" not in report


def test_warnings_before_the_budget_runs_out_are_still_found(settings, signals, clock):
    """The budget cuts the old end of the file, never the recent lines."""
    path = signals.path("ops_sentinel.ndjson")
    broken_sentinel(path, 3 * MB, 3 * MB - 3)
    signals.ops("queue_backlog")
    report: dict = {}
    issues = sources.read_ops_sentinel(path, clock(), report)
    assert issues[0].keys == ["ops:queue_backlog"] and report["truncated"] is True


def many_alerts(count: int) -> dict:
    payload = am_payload()
    one = payload["alerts"][0]
    payload["alerts"] = [
        {**one, "fingerprint": f"fp{i}", "labels": {**one["labels"], "instance": f"w{i}"}}
        for i in range(count)
    ]
    return payload


def test_5000_alertmanager_alerts_are_refused_with_413(api):
    response = api.post("/api/incidents/alertmanager", many_alerts(5000), format="json")
    assert response.status_code == 413
    body = response.json()
    assert body["ok"] is False and body["error"] == "payload_too_large"
    assert "1000" in body["detail"]
    assert not ReceivedAlert.objects.exists()


def test_1000_alerts_are_the_most_accepted(api):
    assert (
        api.post("/api/incidents/alertmanager", many_alerts(1001), format="json").status_code == 413
    )
    response = api.post("/api/incidents/alertmanager", many_alerts(1000), format="json")
    assert response.status_code == 200 and response.json()["stored"] == 1000


def test_the_schema_states_the_1000_alert_cap_and_its_413(api):
    schema = api.get("/api/schema/?format=json").json()
    body = schema["components"]["schemas"]["AlertmanagerWebhook"]
    assert body["properties"]["alerts"]["maxItems"] == MAX_ALERTS == 1000
    refused = schema["paths"]["/api/incidents/alertmanager"]["post"]["responses"]["413"]
    assert "1,000 alerts" in refused["description"]
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in refused["description"]
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    # The serializer only describes: the receiver still answers 413, not a 400 for maxItems.
    serializer = AlertmanagerWebhookSerializer(data=many_alerts(MAX_ALERTS + 1))
    assert not serializer.is_valid() and "1000" in str(serializer.errors["alerts"])
    response = api.post("/api/incidents/alertmanager", many_alerts(MAX_ALERTS + 1), format="json")
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


def test_long_label_and_annotation_values_are_cut_to_1_kib(api):
    payload = am_payload()
    payload["alerts"][0]["labels"]["instance"] = "é" * 5000
    payload["alerts"][0]["annotations"]["description"] = "x" * 100_000
    assert api.post("/api/incidents/alertmanager", payload, format="json").status_code == 200
    stored = ReceivedAlert.objects.get()
    assert len(stored.labels["instance"].encode()) <= 1024
    assert stored.labels["instance"].endswith("…")
    assert len(stored.annotations["description"].encode()) <= 1024


def test_too_many_labels_or_non_text_annotations_are_refused(api):
    payload = am_payload()
    payload["alerts"][0]["labels"].update({f"l{i}": "v" for i in range(200)})
    assert api.post("/api/incidents/alertmanager", payload, format="json").status_code == 400
    payload = am_payload()
    payload["alerts"][0]["annotations"] = {"value": 3}
    response = api.post("/api/incidents/alertmanager", payload, format="json")
    assert response.status_code == 400 and "annotations" in response.json()["detail"]


def test_a_scan_lists_at_most_100_warning_types(signals, clock):
    signals.ops(*[f"type{i:03d}" for i in range(150)])
    path = signals.path("ops_sentinel.ndjson")
    report: dict = {}
    (issue,) = sources.read_ops_sentinel(path, clock(), report)
    assert len(issue.keys) == 100
    assert report["other_warning_types"] == 50
    assert issue.detail.endswith("(+50 of other types)")
