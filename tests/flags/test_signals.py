"""`flags.signals.flag_changed`: once per history row, after commit, never on a rollback."""

import pytest
from django.db import transaction

from flags import services, signals
from flags.models import Flag

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    changes = []

    def receiver(sender, change, **kwargs):
        changes.append((change.key, change.field, change.new, change.flag.announce_channels))

    def broken(sender, change, **kwargs):
        raise RuntimeError("a receiver that fails never breaks the change")

    signals.flag_changed.connect(receiver)
    signals.flag_changed.connect(broken)
    yield changes
    signals.flag_changed.disconnect(receiver)
    signals.flag_changed.disconnect(broken)


def test_sent_after_commit_once_per_row(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.flag_set(
            key="ui.x",
            actor="cli",
            create=True,
            value=False,
            announce=True,
            announce_channels=["slack"],
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.flag_set(key="ui.x", actor="cli", value=True, description="on")
    assert [r[:2] for r in received] == [
        ("ui.x", "created"),
        ("ui.x", "value"),
        ("ui.x", "description"),
    ]
    assert received[1][3] == ["slack"]
    assert Flag.objects.get(key="ui.x").announce is True


def test_not_sent_for_a_rolled_back_change(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.flag_set(key="ui.y", actor="cli", create=True, value=False)
            raise RuntimeError("rolled back")
    assert received == []


@pytest.mark.parametrize("channels", ["slack", ["bad name"], ["a", "a"], [1]])
def test_bad_announce_channels_are_refused(api, channels):
    services.flag_set(key="ui.z", actor="cli", create=True, value=False)
    response = api.post(
        "/api/flags/set", {"key": "ui.z", "announce_channels": channels}, format="json"
    )
    assert response.status_code == 400
