"""Flag services: typed sets, history rows, the NDJSON mirror, revert, concurrency."""

import subprocess
import sys
import threading

import pytest
from django.db import connection

from flags import services
from flags.models import Flag, FlagChange
from tests.conftest import ROOT, read_ndjson, subprocess_env

pytestmark = pytest.mark.django_db


def test_set_records_one_row_per_changed_field_and_mirrors_after_commit(
    seeded, log_dir, django_capture_on_commit_callbacks
):
    mirrored = len(read_ndjson(log_dir, "feature_flags"))
    with django_capture_on_commit_callbacks(execute=True):
        result = services.flag_set(
            key="ui.new_dashboard",
            actor="api:k_1",
            value=True,
            description="New dashboard",
            enabled=True,  # unchanged: no row
        )
    assert (result.previous, result.value, result.changed) == (
        False,
        True,
        ["value", "description"],
    )
    rows = list(FlagChange.objects.filter(key="ui.new_dashboard").order_by("id"))
    assert [(r.field, r.old, r.new, r.actor, r.source) for r in rows[1:]] == [
        ("value", False, True, "api:k_1", "api"),
        ("description", "", "New dashboard", "api:k_1", "api"),
    ]
    lines = read_ndjson(log_dir, "feature_flags")[mirrored:]
    assert [(line["key"], line["field"]) for line in lines] == [
        ("ui.new_dashboard", "value"),
        ("ui.new_dashboard", "description"),
    ]
    # The core's mirror may add its own `line_id` to every line.
    line = {k: v for k, v in lines[0].items() if k != "line_id"}
    assert line == {"type": "flag_change", **services.change_row(rows[1])}
    assert set(line) == {
        "type",
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


def test_a_set_that_changes_nothing_records_nothing(
    seeded, log_dir, django_capture_on_commit_callbacks
):
    before = FlagChange.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.flag_set(key="payments.live", actor="cli", value=True)
    assert result.changes == [] and FlagChange.objects.count() == before
    assert callbacks == []


def test_unknown_key_is_refused_unless_create(seeded):
    with pytest.raises(services.UnknownFlag):
        services.flag_set(key="ui.new_dashbord", actor="cli", value=True)
    assert not Flag.objects.filter(key="ui.new_dashbord").exists()
    result = services.flag_set(key="ui.banner", actor="cli", value="hello", create=True)
    assert result.created and result.type == "string"
    row = FlagChange.objects.get(key="ui.banner")
    assert row.field == "created" and row.old is None and row.new["value"] == "hello"


@pytest.mark.parametrize(
    ("flag_type", "initial", "written", "stored"),
    [
        ("float", 1.5, 3, 3.0),
        ("integer", 2, 7, 7),
        ("integer", 2, 4.0, 4),  # an integral float is an integer
        ("object", {"a": 1}, [1, 2], [1, 2]),
    ],
)
def test_values_keep_the_flag_type(db, flag_type, initial, written, stored):
    services.flag_set(key="t", actor="cli", value=initial, create=True, type=flag_type)
    result = services.flag_set(key="t", actor="cli", value=written)
    assert result.value == stored and type(result.value) is type(stored)
    assert Flag.objects.get(key="t").type == flag_type


@pytest.mark.parametrize(
    ("flag_type", "initial", "bad"),
    [("integer", 2, 2.5), ("boolean", True, 1), ("string", "a", 3), ("float", 1.0, "1.0")],
)
def test_other_json_types_are_type_errors_unless_retype(db, flag_type, initial, bad):
    services.flag_set(key="t", actor="cli", value=initial, create=True, type=flag_type)
    with pytest.raises(services.TypeMismatch):
        services.flag_set(key="t", actor="cli", value=bad)
    assert Flag.objects.get(key="t").value == initial
    result = services.flag_set(key="t", actor="cli", value=bad, retype=True)
    assert result.value == bad and result.type != flag_type


def test_retype_needs_rules_of_the_new_type(db):
    rules = [{"name": "r", "conditions": [{"attribute": "a", "op": "eq", "value": 1}], "value": 5}]
    services.flag_set(key="t", actor="cli", value=1, create=True, rules=rules)
    with pytest.raises(services.TypeMismatch, match="rules"):
        services.flag_set(key="t", actor="cli", value="x", retype=True)
    new_rules = [{**rules[0], "value": "y"}]
    result = services.flag_set(key="t", actor="cli", value="x", retype=True, rules=new_rules)
    assert result.type == "string" and result.changed == ["value", "rules"]


# "trailing\n": a Python `$` matches before a final newline; the key must match whole.
@pytest.mark.parametrize("key", ["has space", "x" * 101, "", "ü-key", "-lead", "trailing\n"])
def test_bad_keys_are_refused(db, key):
    with pytest.raises(services.InvalidFlagInput):
        services.flag_set(key=key, actor="cli", value=True, create=True)
    assert Flag.objects.count() == 0


def test_revert_restores_old_value_and_is_itself_recorded(seeded):
    changed = services.flag_set(key="payments.live", actor="cli", value=False)
    row_id = changed.changes[0]["id"]
    result = services.flag_revert(change_id=row_id, actor="admin:alice")
    assert result.value is True
    row = FlagChange.objects.order_by("-id").first()
    assert (row.field, row.old, row.new, row.actor, row.revert_of_id) == (
        "value",
        False,
        True,
        "admin:alice",
        row_id,
    )
    with pytest.raises(services.UnknownChange):
        services.flag_revert(change_id=999999, actor="cli")


def test_revert_of_a_creation_archives_and_of_a_retype_restores_type(db):
    created = services.flag_set(key="n", actor="cli", value=1, create=True)
    retyped = services.flag_set(key="n", actor="cli", value="one", retype=True)
    services.flag_revert(change_id=retyped.changes[0]["id"], actor="cli")
    flag = Flag.objects.get(key="n")
    assert (flag.type, flag.value) == ("integer", 1)
    services.flag_revert(change_id=created.changes[0]["id"], actor="cli")
    assert Flag.objects.get(key="n").archived is True


def _assert_chain(key, initial, count):
    rows = list(FlagChange.objects.filter(key=key, field="value").order_by("id"))
    assert len(rows) == count
    assert rows[0].old == initial
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.old == prev.new
    assert Flag.objects.get(key=key).value == rows[-1].new
    assert len({r.new for r in rows}) == count


@pytest.mark.django_db(transaction=True)  # each thread has its own connection
def test_parallel_sets_from_threads_chain(settings):
    services.flag_set(key="conc", actor="cli", value="start", create=True)
    errors = []

    def worker(i):
        try:
            services.flag_set(key="conc", actor=f"api:t{i}", value=f"v{i}")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _assert_chain("conc", "start", 8)


@pytest.mark.external
@pytest.mark.django_db(transaction=True)  # the child processes share the committed database
def test_parallel_sets_from_processes_chain(settings, log_dir):
    services.flag_set(key="conc", actor="cli", value="start", create=True)
    env = subprocess_env(settings)
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "flags", "set", "conc", f'"p{i}"'],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(5)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    _assert_chain("conc", "start", 5)
    lines = [line for line in read_ndjson(log_dir, "feature_flags") if line["field"] == "value"]
    assert len(lines) == 5


def deep(depth):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"value": 10**400}, services.TypeMismatch),  # overflows a float
        ({"rollout": {"percentage": 10**400, "value": 2.0}}, services.InvalidFlagInput),
        ({"value": "a\x00b", "retype": True}, services.InvalidFlagInput),
        ({"value": "\ud800", "retype": True}, services.InvalidFlagInput),
        ({"value": deep(870), "retype": True}, services.InvalidFlagInput),
        ({"value": {"big": "x" * 70_000}, "retype": True}, services.InvalidFlagInput),
        ({"description": "\ud800"}, services.InvalidFlagInput),
        ({"description": "a\x00b"}, services.InvalidFlagInput),
    ],
)
def test_unstorable_values_are_refused_and_nothing_is_stored(db, fields, error):
    services.flag_set(key="t", actor="cli", value=1.5, create=True)
    rows = FlagChange.objects.count()
    with pytest.raises(error):
        services.flag_set(key="t", actor="cli", **fields)
    flag = Flag.objects.get(key="t")
    assert (flag.value, flag.description, flag.rollout) == (1.5, "", None)
    assert FlagChange.objects.count() == rows


def test_failures_are_domain_errors_with_stable_codes(seeded):
    from echopilot.exceptions import Conflict, Invalid, NotFound

    with pytest.raises(NotFound) as unknown:
        services.flag_set(key="ui.typo", actor="cli", value=True)
    assert (unknown.value.code, unknown.value.extra) == ("unknown_flag", {"key": "ui.typo"})
    with pytest.raises(Invalid) as mismatch:
        services.flag_set(key="payments.live", actor="cli", value="yes")
    assert mismatch.value.code == "type_mismatch"
    with pytest.raises(Invalid) as invalid:
        services.flag_set(key="payments.live", actor="cli", enabled="yes")
    assert invalid.value.code == "invalid" and invalid.value.detail.startswith("enabled:")
    with pytest.raises(NotFound) as no_row:
        services.flag_revert(change_id=999999, actor="cli")
    assert no_row.value.code == "unknown_change"

    rules = [{"name": "r", "conditions": [{"attribute": "a", "op": "eq", "value": 1}], "value": 5}]
    services.flag_set(key="n", actor="cli", value=1, create=True, rules=rules)
    row = services.flag_set(key="n", actor="cli", rules=[]).changes[0]["id"]
    services.flag_set(key="n", actor="cli", value="x", retype=True)
    with pytest.raises(Conflict) as conflict:
        services.flag_revert(change_id=row, actor="cli")
    assert conflict.value.code == "revert_conflict"
    assert Flag.objects.get(key="n").rules == []


def test_history_checks_its_limit_and_key(seeded):
    from echopilot.exceptions import Invalid
    from flags import selectors
    from flags.limits import HISTORY_MAX, HISTORY_MIN

    assert len(selectors.history(limit=HISTORY_MIN)) == HISTORY_MIN
    assert len(selectors.history(limit=HISTORY_MAX)) == 5
    for limit in (HISTORY_MIN - 1, HISTORY_MAX + 1):
        with pytest.raises(Invalid, match=f"{HISTORY_MIN}-{HISTORY_MAX}"):
            selectors.history(limit=limit)
    with pytest.raises(services.UnknownFlag, match="No flag 'ui.typo'"):
        selectors.history(key="ui.typo")
    services.flag_set(key="ui.new_dashboard", actor="cli", archived=True)
    assert [r["field"] for r in selectors.history(key="ui.new_dashboard")] == [
        "archived",
        "created",
    ]
