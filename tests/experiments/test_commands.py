"""`manage.py experiments ...` and `manage.py load_configs`."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from experiments import services
from experiments.models import Experiment, Exposure


def run(*args) -> str:
    out = StringIO()
    call_command("experiments", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_load_configs_loads_experiments_idempotently(config_dir, db):
    out = StringIO()
    call_command("load_configs", stdout=out)
    assert "created   pricing_v2" in out.getvalue()
    assert Experiment.objects.get(key="onboarding_flow").salt == "ONBOARD2025"
    out = StringIO()
    call_command("load_configs", stdout=out)
    assert "unchanged pricing_v2" in out.getvalue()
    assert Experiment.objects.count() == 2


def test_load_bad_file_fails_naming_the_problem(config_dir, db):
    (config_dir / "experiments.json").write_text(json.dumps({"x": {"variants": ["a", "a"]}}))
    with pytest.raises(CommandError, match="duplicate variants"):
        run("load")
    assert not Experiment.objects.exists()
    with pytest.raises(CommandError, match="cannot be read"):
        run("load", "--file", str(config_dir / "missing.json"))


def test_load_differs_is_reported_and_kept(config_dir, seeded):
    data = json.loads((config_dir / "experiments.json").read_text())
    data["pricing_v2"]["description"] = "changed"
    (config_dir / "experiments.json").write_text(json.dumps(data))
    assert "differs   pricing_v2 (description differ" in run("load")
    assert Experiment.objects.get(key="pricing_v2").description != "changed"
    assert "updated   pricing_v2" in run("load", "--update")
    assert Experiment.objects.get(key="pricing_v2").description == "changed"


def test_list_assign_results(seeded):
    assert run("assign", "pricing_v2", "bob") == "B\n"
    assert not Exposure.objects.exists()
    run("assign", "pricing_v2", "bob", "--record")
    listing = run("list")
    assert "pricing_v2" in listing and "[A (1), B (1)] exposures=1" in listing
    data = json.loads(run("results", "pricing_v2"))
    assert data["ok"] is True and data["variants"][1]["users"] == 1
    with pytest.raises(CommandError, match="unknown_experiment"):
        run("results", "nope")


def test_status_commands(seeded):
    assert run("pause", "pricing_v2") == "pricing_v2: paused\n"
    assert run("resume", "pricing_v2") == "pricing_v2: running\n"
    assert run("stop", "pricing_v2", "--winner", "B") == "pricing_v2: stopped (winner B)\n"
    with pytest.raises(CommandError, match="experiment_stopped"):
        run("resume", "pricing_v2")


def test_system_check_warns_about_a_bad_config(config_dir, db):
    from django.core.checks import run_checks

    assert not [m for m in run_checks() if m.id == "experiments.W001"]
    (config_dir / "experiments.json").write_text('{"e": {"variants": ["a"]}}')
    found = [m for m in run_checks() if m.id == "experiments.W001"]
    assert len(found) == 1 and "at least two" in found[0].msg


def test_results_command_warns_about_srm(make_exp):
    from experiments.models import Exposure

    exp = make_exp(key="skew", variants=["A", "B"])
    Exposure.objects.bulk_create(
        Exposure(
            experiment=exp, user=f"u{i}", variant="A" if i < 300 else "B", created_at=exp.created_at
        )
        for i in range(400)
    )
    services.recount(key="skew")  # raw rows written behind the services' back
    out, err = StringIO(), StringIO()
    call_command("experiments", "results", "skew", stdout=out, stderr=err)
    assert "sample ratio mismatch" in err.getvalue()
    assert json.loads(out.getvalue())["srm"]["srm"] is True


@pytest.mark.parametrize(
    ("args", "code", "returncode"),
    [
        (("results", "nope"), "unknown_experiment", 3),
        (("assign", "nope", "bob"), "unknown_experiment", 3),
        (("pause", "nope"), "unknown_experiment", 3),
        (("assign", "pricing_v2", " "), "invalid", 2),
        (("results", "pricing_v2", "--event", "a b"), "invalid", 2),
        (("stop", "pricing_v2", "--winner", "Z"), "unknown_variant", 2),
    ],
)
def test_errors_exit_with_the_kinds_exit_code(seeded, args, code, returncode):
    with pytest.raises(CommandError) as e:
        run(*args)
    assert e.value.returncode == returncode
    assert str(e.value).endswith(f"({code})")
    assert not Exposure.objects.exists()
    assert Experiment.objects.get(key="pricing_v2").status == "running"


def test_conflicts_exit_with_4(seeded):
    run("stop", "pricing_v2")
    with pytest.raises(CommandError) as e:
        run("resume", "pricing_v2")
    assert e.value.returncode == 4 and "experiment_stopped" in str(e.value)
    assert Experiment.objects.get(key="pricing_v2").status == "stopped"


def test_bad_config_file_exits_with_2(config_dir, db):
    (config_dir / "experiments.json").write_text('{"e": {"variants": ["a"]}}')
    with pytest.raises(CommandError) as e:
        run("load")
    assert e.value.returncode == 2 and str(e.value).endswith("(invalid_experiment)")
    assert not Experiment.objects.exists()


def test_load_without_a_config_file_loads_nothing(settings, tmp_path, db):
    settings.CONFIG_DIR = tmp_path
    assert run("load") == f"experiments: no {tmp_path / 'experiments.json'}; nothing to load\n"
    assert not Experiment.objects.exists()


def test_help_lists_every_action():
    from experiments.management.commands.experiments import Command

    text = Command().create_parser("manage.py", "experiments").format_help()
    for action in ("list", "assign", "results", "load", "pause", "resume", "stop"):
        assert action in text
    assert "Stop an experiment, optionally declaring a winner." in text
