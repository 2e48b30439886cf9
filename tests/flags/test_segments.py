"""Segments: the API, rules that use them, their history, 409 in use, the version-2 file."""

import json

import pytest

import flags
from flags import config, services, snapshot
from flags.models import FlagChange, Segment
from tests.conftest import read_ndjson

pytestmark = pytest.mark.django_db

BETA = {
    "name": "beta-testers",
    "conditions": [{"attribute": "email", "op": "contains", "value": "@acme.com"}],
    "description": "Staff",
}


def use_segment(key="ui.beta", segment="beta-testers"):
    services.flag_set(
        key=key,
        actor="cli",
        create=True,
        value=False,
        rules=[{"name": "beta", "segment": segment, "value": True}],
    )


def test_create_list_replace_and_history(api, log_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/flags/segments", BETA, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["created"] is True
    use_segment()
    assert flags.evaluate("ui.beta", {"email": "a@acme.com"}).variant == "beta"
    assert flags.evaluate("ui.beta", {"email": "a@other.com"}).reason == "DEFAULT"

    listed = api.get("/api/flags/segments").json()
    assert listed["count"] == 1 and listed["segments"][0]["used_by"] == ["ui.beta"]

    replaced = {**BETA, "conditions": [{"attribute": "plan", "op": "eq", "value": "beta"}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/flags/segments", replaced, format="json")
    assert response.status_code == 200 and response.json()["changed"] == ["conditions"]
    # Every flag that uses it changes with it (this process reloads at once).
    assert flags.evaluate("ui.beta", {"email": "a@acme.com"}).reason == "DEFAULT"
    assert flags.evaluate("ui.beta", {"plan": "beta"}).value is True

    history = api.get("/api/flags/history?key=segment:beta-testers").json()["history"]
    assert [(r["field"], r["key"]) for r in history] == [
        ("conditions", "segment:beta-testers"),
        ("created", "segment:beta-testers"),
    ]
    assert history[0]["old"] == BETA["conditions"]
    assert history[0]["new"] == replaced["conditions"]
    lines = [x for x in read_ndjson(log_dir, "feature_flags") if x["type"] == "segment_change"]
    assert [x["field"] for x in lines] == ["created", "conditions"]

    # A revert puts the old conditions back.
    reverted = api.post("/api/flags/revert", {"id": history[0]["id"]}, format="json")
    assert reverted.status_code == 200
    assert Segment.objects.get().conditions == BETA["conditions"]


def test_other_processes_see_a_segment_change_within_the_staleness_bound(clock):
    from flags import segments

    segments.segment_set(name="beta-testers", conditions=BETA["conditions"], actor="cli")
    use_segment()
    assert flags.evaluate("ui.beta", {"email": "x@acme.com"}).value is True
    stamp = snapshot.current().stamp
    # A change made by another process: only the shared stamp tells this one.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE flags_segment SET conditions = %s WHERE name = %s",
            [json.dumps([{"attribute": "plan", "op": "eq", "value": "x"}]), "beta-testers"],
        )
        cursor.execute("UPDATE flags_flagstamp SET stamp = 'other' WHERE id = 1")
    assert flags.evaluate("ui.beta", {"email": "x@acme.com"}).value is True  # cached
    clock.advance(1.0)
    assert flags.evaluate("ui.beta", {"email": "x@acme.com"}).value is False
    assert snapshot.current().stamp != stamp


def test_delete_in_use_is_refused_then_allowed(api):
    api.post("/api/flags/segments", BETA, format="json")
    use_segment()
    refused = api.delete("/api/flags/segments/beta-testers")
    assert refused.status_code == 409
    assert refused.json()["error"] == "segment_in_use" and "ui.beta" in refused.json()["detail"]
    assert Segment.objects.filter(name="beta-testers").exists()
    services.flag_set(key="ui.beta", actor="cli", rules=[])
    deleted = api.delete("/api/flags/segments/beta-testers")
    assert deleted.status_code == 200 and not Segment.objects.exists()
    row = FlagChange.objects.first()
    assert (row.key, row.field, row.new) == ("segment:beta-testers", "deleted", None)
    assert api.delete("/api/flags/segments/beta-testers").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {**BETA, "conditions": [{"attribute": "email", "op": "like", "value": "x"}]},
        {**BETA, "conditions": []},
        {**BETA, "name": "has space"},
        {**BETA, "name": "trailing\n"},  # a Python `$` matches before a final newline
        {**BETA, "extra": 1},
        {**BETA, "conditions": [{"attribute": "a", "op": "eq"}]},
    ],
)
def test_bad_segments_are_refused_and_nothing_is_stored(api, body):
    response = api.post("/api/flags/segments", body, format="json")
    assert response.status_code == 400, response.content
    assert not Segment.objects.exists() and not FlagChange.objects.exists()


def test_a_rule_naming_an_unknown_segment_is_refused(api):
    services.flag_set(key="ui.beta", actor="cli", create=True, value=False)
    response = api.post(
        "/api/flags/set",
        {"key": "ui.beta", "rules": [{"segment": "nobody", "value": True}]},
        format="json",
    )
    assert response.status_code == 400 and "nobody" in response.json()["detail"]
    both = api.post(
        "/api/flags/set",
        {
            "key": "ui.beta",
            "rules": [{"segment": "x", "conditions": BETA["conditions"], "value": True}],
        },
        format="json",
    )
    assert both.status_code == 400


def test_the_version_2_file_carries_segments_and_prerequisites(tmp_path):
    path = tmp_path / "flags.json"
    path.write_text(
        json.dumps(
            {
                "version": 2,
                "segments": {"beta-testers": {"conditions": BETA["conditions"]}},
                "flags": {
                    "ui.beta": {
                        "value": False,
                        "rules": [{"name": "beta", "segment": "beta-testers", "value": True}],
                        "prerequisites": [{"flag": "payments.live", "value": True}],
                    },
                    "payments.live": {"value": True},
                },
            }
        )
    )
    result = config.flags_load(path=path)
    assert sorted(result.created) == ["payments.live", "ui.beta"]
    assert flags.evaluate("ui.beta", {"email": "a@acme.com"}).value is True
    out = tmp_path / "export.json"
    config.flags_export(path=out)
    exported = json.loads(out.read_text())
    assert exported["segments"] == {
        "beta-testers": {"conditions": BETA["conditions"], "description": ""}
    }
    assert exported["flags"]["ui.beta"]["prerequisites"] == [
        {"flag": "payments.live", "value": True}
    ]
    again = config.flags_load(path=out)  # loading an export changes nothing
    assert again.created == [] and again.updated == []


def test_a_file_naming_an_unknown_segment_changes_nothing(tmp_path):
    path = tmp_path / "flags.json"
    rules = [{"segment": "ghost", "value": True}]
    path.write_text(json.dumps({"version": 2, "flags": {"ui.x": {"value": False, "rules": rules}}}))
    with pytest.raises(config.ConfigError, match="ghost"):
        config.flags_load(path=path)
    assert not FlagChange.objects.exists()
