"""deploy/prometheus/alerts.yml: valid rules (promtool check rules) that fire
when they should and stay quiet when they should not (promtool test rules)."""

import pytest

from tests.conftest import ROOT
from tests.processes import promtool

RULES = ROOT / "deploy" / "prometheus"


@pytest.mark.external
def test_the_alert_rules_are_valid():
    result = promtool("check", "rules", "alerts.yml", cwd=RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


@pytest.mark.external
def test_the_alert_rules_fire_as_their_unit_tests_say():
    result = promtool("test", "rules", "alerts_test.yml", cwd=RULES)
    assert result.returncode == 0, result.stdout + result.stderr
