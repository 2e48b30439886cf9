"""`manage.py flags …` and `manage.py load_configs`."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from echopilot.exceptions import Invalid
from flags import services
from flags.models import Flag, FlagChange
from tests.conftest import ROOT, subprocess_env
from tests.flags.conftest import SEED

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("flags", *args, stdout=out)
    return out.getvalue()


def values():
    return {f.key: f.value for f in Flag.objects.all()}


def test_load_configs_loads_the_seed_and_is_idempotent(settings):
    call_command("load_configs", stdout=io.StringIO())
    assert values() == SEED
    rows = FlagChange.objects.count()
    assert rows == 5 and set(FlagChange.objects.values_list("source", flat=True)) == {"config"}
    call_command("load_configs", stdout=io.StringIO())
    assert FlagChange.objects.count() == rows


def test_load_never_overwrites_a_changed_value_unless_told(settings):
    run("load")
    services.flag_set(key="ui.new_dashboard", actor="api:k_1", value=True)
    seed = dict(SEED, **{"payments.live": False, "ui.new_dashboard": False})
    (settings.CONFIG_DIR / "flags.json").write_text(json.dumps(seed))

    out = run("load")
    # payments.live was only ever set by the config: the file still owns it.
    assert values()["payments.live"] is False
    assert values()["ui.new_dashboard"] is True
    assert "kept ui.new_dashboard: value" in out

    run("load", "--overwrite")
    assert values()["ui.new_dashboard"] is False
    assert FlagChange.objects.filter(key="ui.new_dashboard").first().actor == "config"


def test_extended_form_and_export_round_trip(settings):
    extended = {
        "version": 2,
        "flags": {
            "ui.theme": {
                "value": "dark",
                "description": "Theme",
                "rules": [
                    {
                        "name": "de",
                        "conditions": [{"attribute": "c", "op": "eq", "value": "DE"}],
                        "value": "light",
                    }
                ],
                "rollout": {"percentage": 10, "value": "blue"},
                "enabled": False,
            },
            "pricing.ratio": {"value": 2, "type": "float"},
        },
    }
    path = settings.CONFIG_DIR / "extended.json"
    path.write_text(json.dumps(extended))
    run("load", "--path", str(path))
    theme = Flag.objects.get(key="ui.theme")
    assert (theme.description, theme.enabled, theme.rollout["percentage"]) == ("Theme", False, 10)
    assert Flag.objects.get(key="pricing.ratio").value == 2.0

    out = run("export")
    assert "exported 2 flags" in out
    exported = json.loads((settings.CONFIG_DIR / "flags.json").read_text())
    assert exported["version"] == 2
    assert exported["flags"]["ui.theme"]["rules"][0]["name"] == "de"
    assert exported["flags"]["pricing.ratio"] == {
        "type": "float",
        "value": 2.0,
        "description": "",
        "rules": [],
        "rollout": None,
        "enabled": True,
    }
    before = FlagChange.objects.count()
    run("load")  # loading the export changes nothing
    assert FlagChange.objects.count() == before


BAD_CONFIGS = [
    ("[1, 2]", "top level"),
    ("{broken", "invalid JSON"),
    # json.loads would silently keep the second value.
    ('{"payments.live": true, "payments.live": false}', "duplicate key 'payments.live'"),
    ('{"version": 2, "version": 2, "flags": {}}', "duplicate key 'version'"),
    ('{"has space": true}', "has space"),
    ('{"version": 3, "flags": {}}', "unsupported version"),
    ('{"version": 2, "flags": {"a": {"type": "integer"}}}', "'value' is required"),
    (
        '{"version": 2, "flags": {"a": {"value": 1, "rollout": {"percentage": 200, "value": 2}}}}',
        "percentage",
    ),
    (
        '{"version": 2, "flags": {"a": {"value": 1, "rules": [{"conditions": '
        '[{"attribute": "x", "op": "like", "value": 1}], "value": 2}]}}}',
        "unknown operator",
    ),
    ('{"ok.key": true, "bad": null}', "'bad'"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_CONFIGS)
def test_a_bad_config_names_file_and_problem_and_changes_nothing(settings, text, problem):
    run("load")
    before = (values(), FlagChange.objects.count())
    path = settings.CONFIG_DIR / "flags.json"
    path.write_text(text)
    with pytest.raises(CommandError) as error:
        run("load")
    assert str(path) in str(error.value) and problem in str(error.value)
    assert (values(), FlagChange.objects.count()) == before


@pytest.mark.external
@pytest.mark.django_db(transaction=True)  # the child process reads the committed database
def test_a_bad_config_exits_non_zero(settings, tmp_path):
    bad = tmp_path / "cfg"
    bad.mkdir()
    (bad / "flags.json").write_text('{"x": null}')
    proc = subprocess.run(
        [sys.executable, "manage.py", "flags", "load"],
        cwd=ROOT,
        env=subprocess_env(settings, ECHOPILOT_CONFIG_DIR=bad),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == Invalid.exit_code
    assert str(bad / "flags.json") in proc.stderr and "'x'" in proc.stderr
    assert Flag.objects.count() == 0


def test_set_get_history_revert_list(settings):
    run("load")
    assert "ui.new_dashboard.value: false -> true" in run("set", "ui.new_dashboard", "true")
    assert "nothing changed" in run("set", "ui.new_dashboard", "true")
    assert "created ui.banner (string)" in run("set", "ui.banner", "hello", "--create")
    with pytest.raises(CommandError, match="No flag"):
        run("set", "ui.typo", "true")
    with pytest.raises(CommandError, match="retype"):
        run("set", "payments.live", "3")
    run("set", "ui.new_dashboard", "--rollout", '{"percentage": 100, "value": false}', "--disable")
    got = json.loads(run("get", "ui.new_dashboard", "--context", '{"targetingKey": "u"}'))
    assert got == {
        "key": "ui.new_dashboard",
        "value": True,
        "variant": "default",
        "reason": "DISABLED",
    }

    rows = [json.loads(line) for line in run("history", "ui.new_dashboard", "--json").splitlines()]
    assert [r["field"] for r in rows] == ["enabled", "rollout", "value", "created"]
    assert all(r["actor"] == "cli" for r in rows[:3])
    value_row = rows[2]["id"]
    assert "reverted change" in run("revert", str(value_row))
    assert Flag.objects.get(key="ui.new_dashboard").value is False
    with pytest.raises(CommandError, match="No history row"):
        run("revert", "999999")

    listing = run("list")
    assert "disabled" in listing and "rollout 100%" in listing and "ui.banner" in listing


def test_system_check_reports_a_bad_config(settings):
    from flags.checks import flags_config

    assert flags_config(None) == []
    (settings.CONFIG_DIR / "flags.json").write_text('{"a b": true}')
    [warning] = flags_config(None)
    assert warning.id == "flags.W001" and "'a b'" in warning.msg


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"payments.live": "\xff\xfe"}', "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"payments.live": ' + b"[" * 40 + b"]" * 40 + b"}", "deeper than 32"),
    ],
)
def test_an_unreadable_config_is_a_warning_and_a_load_error(settings, content, problem):
    from flags.checks import flags_config

    path = settings.CONFIG_DIR / "flags.json"
    path.write_bytes(content)
    [warning] = flags_config(None)
    assert warning.id == "flags.W001" and problem in warning.msg and str(path) in warning.msg
    with pytest.raises(CommandError, match=problem):
        run("load")
    assert not Flag.objects.exists()
    call_command("check", stdout=io.StringIO(), stderr=io.StringIO())  # warns, does not crash


def exit_code(*args) -> int:
    """Run `flags …`, which must fail; return the exit code it would leave with."""
    with pytest.raises(CommandError) as error:
        run(*args)
    return error.value.returncode


def retyped_after_a_rules_change() -> int:
    """Return a history row (a rules change) that no longer fits its retyped flag."""
    rules = [{"name": "r", "conditions": [{"attribute": "a", "op": "eq", "value": 1}], "value": 5}]
    services.flag_set(key="n", actor="cli", value=1, create=True, rules=rules)
    row = services.flag_set(key="n", actor="cli", rules=[]).changes[0]["id"]
    services.flag_set(key="n", actor="cli", value="x", retype=True)
    return row


def test_exit_codes_tell_not_found_from_invalid_from_conflict(settings):
    run("load")
    # 3: the flag or history row does not exist.
    assert exit_code("set", "ui.typo", "true") == 3
    assert exit_code("get", "ui.typo") == 3
    assert exit_code("history", "ui.typo") == 3
    assert exit_code("revert", "999999") == 3
    # 2: the input breaks a rule.
    assert exit_code("set", "payments.live", "3") == 2
    assert exit_code("set", "payments.live", "--rules", "[broken") == 2
    assert exit_code("set", "payments.live") == 2  # nothing to set
    assert exit_code("get", "payments.live", "--context", "[1]") == 2
    assert exit_code("history", "--limit", "0") == 2
    # 4: the change conflicts with the flag as it is now.
    assert exit_code("revert", str(retyped_after_a_rules_change())) == 4
    (settings.CONFIG_DIR / "flags.json").write_text("{broken")
    assert exit_code("load") == 2


def test_get_of_a_rollout_without_targeting_key_names_the_openfeature_code(settings):
    run("load")
    run("set", "ab.pricing_v2", "--rollout", '{"percentage": 50, "value": true}')
    with pytest.raises(CommandError) as error:
        run("get", "ab.pricing_v2")
    assert error.value.returncode == 2
    assert str(error.value).startswith("ab.pricing_v2: ")
    assert str(error.value).endswith("(TARGETING_KEY_MISSING)")
    with pytest.raises(CommandError, match=r"^ui.typo: No flag 'ui.typo'. \(FLAG_NOT_FOUND\)$"):
        run("get", "ui.typo")


def test_history_limit_bounds_are_the_apis(settings):
    from flags.limits import HISTORY_DEFAULT, HISTORY_MAX, HISTORY_MIN

    run("load")
    for i in range(HISTORY_DEFAULT):
        services.flag_set(key="ui.new_dashboard", actor="cli", value=i % 2 == 0)
    assert len(run("history").splitlines()) == HISTORY_DEFAULT
    assert len(run("history", "--limit", str(HISTORY_MIN)).splitlines()) == HISTORY_MIN
    assert len(run("history", "--limit", str(HISTORY_MAX)).splitlines()) == HISTORY_DEFAULT + 5
    with pytest.raises(CommandError, match=f"{HISTORY_MIN}-{HISTORY_MAX}"):
        run("history", "--limit", str(HISTORY_MAX + 1))


def test_help_lists_every_action():
    from flags.management.commands.flags import Command

    out = io.StringIO()
    parser = Command(stdout=out).create_parser("manage.py", "flags")
    text = parser.format_help()
    for action in ("list", "get", "set", "history", "revert", "load", "export"):
        assert action in Command.actions and action in text
