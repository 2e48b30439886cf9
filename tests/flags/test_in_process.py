"""In-process use: `flags.is_enabled`, `get_value`, `evaluate` and the template tags."""

import subprocess
import sys

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template
from django.test import RequestFactory

import flags
from flags import services
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

STAFF_RULE = [
    {
        "name": "staff",
        "conditions": [{"attribute": "is_staff", "op": "eq", "value": True}],
        "value": True,
    }
]


@pytest.mark.external
def test_importing_flags_does_not_load_models():
    code = (
        "import sys, flags; assert callable(flags.is_enabled); "
        "assert 'flags.models' not in sys.modules and 'django.db.models' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_is_enabled_with_user_and_context(seeded):
    services.flag_set(key="ui.new_dashboard", actor="cli", rules=STAFF_RULE)
    staff = User(pk=7, username="root", is_staff=True)
    assert flags.is_enabled("ui.new_dashboard", user=staff) is True
    assert flags.is_enabled("ui.new_dashboard", user=AnonymousUser()) is False
    assert flags.is_enabled("ui.new_dashboard", context={"is_staff": True}) is True
    assert flags.is_enabled("payments.live") is True
    assert flags.is_enabled("no.such.flag") is False
    assert flags.is_enabled("no.such.flag", default=True) is True
    assert flags.evaluate("ui.new_dashboard", {"is_staff": True}) == (
        True,
        "staff",
        "TARGETING_MATCH",
    )
    assert flags.evaluate("nope", default=3) == (3, "default", "ERROR")
    with pytest.raises(Exception, match="No flag"):
        flags.evaluate("nope")


def test_rollout_targets_by_user_pk(seeded):
    services.flag_set(key="ab.pricing_v2", actor="cli", rollout={"percentage": 50, "value": True})
    users = [User(pk=i, username=f"u{i}") for i in range(1, 201)]
    on = [u for u in users if flags.is_enabled("ab.pricing_v2", user=u)]
    assert 60 < len(on) < 140
    assert all(flags.is_enabled("ab.pricing_v2", user=u) for u in on)  # stable
    # Without a user there is no targeting key: the default, not an error.
    assert flags.is_enabled("ab.pricing_v2") is False


def test_template_tags(seeded):
    services.flag_set(key="ui.new_dashboard", actor="cli", rules=STAFF_RULE)
    services.flag_set(key="ui.theme", actor="cli", value="dark", create=True)
    template = Template(
        "{% load feature_flags %}{% flag_enabled 'ui.new_dashboard' as on %}"
        "{% if on %}NEW{% else %}OLD{% endif %} {% flag_value 'ui.theme' 'light' %} "
        "{% flag_value 'missing' 'fallback' %}"
    )
    request = RequestFactory().get("/")
    request.user = User(pk=1, username="root", is_staff=True)
    assert template.render(Context({"request": request})) == "NEW dark fallback"
    request.user = AnonymousUser()
    assert template.render(Context({"request": request})).startswith("OLD")
