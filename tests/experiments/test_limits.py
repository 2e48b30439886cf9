"""Each limit is defined once (experiments.limits) and every interface enforces that one."""

import pytest

from experiments import limits
from experiments.models import Event, Experiment, Exposure
from experiments.serializers import EventInSerializer
from experiments.services import ConfigError, parse_definition


def test_the_contract_values():
    # The documented numbers (docs/experiments.md): a change here is an API change.
    assert (limits.KEY_MAX, limits.EVENT_MAX, limits.VARIANT_MAX) == (64, 64, 64)
    assert (limits.USER_MAX, limits.SALT_MAX) == (200, 200)
    assert (limits.MAX_VARIANTS, limits.MAX_WEIGHT) == (26, 1_000_000)
    assert (limits.BATCH_MAX, limits.VALUE_MAX) == (1000, 10**15)
    assert limits.KEY_RE.pattern == limits.EVENT_RE.pattern == "^[A-Za-z0-9_.:-]{1,64}$"


def test_columns_and_serializer_fields_hold_what_the_limits_allow():
    def width(model, name):
        return model._meta.get_field(name).max_length

    assert width(Experiment, "key") == limits.KEY_MAX
    assert width(Experiment, "salt") == limits.SALT_MAX
    assert width(Experiment, "winner") == limits.VARIANT_MAX
    for model in (Exposure, Event):
        assert width(model, "user") == limits.USER_MAX
        assert width(model, "variant") == limits.VARIANT_MAX
    assert width(Event, "event") == limits.EVENT_MAX
    fields = EventInSerializer().fields
    assert fields["event"].max_length == limits.EVENT_MAX
    assert fields["user"].max_length == limits.USER_MAX
    assert fields["exp"].max_length == limits.KEY_MAX
    assert fields["variant"].max_length == limits.VARIANT_MAX


def test_schema_states_the_limits(api, db):
    import json

    r = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    body = json.loads(r.content)["paths"]["/api/exp/log"]["post"]["requestBody"]
    one, batch = body["content"]["application/json"]["schema"]["oneOf"]
    assert batch["maxItems"] == limits.BATCH_MAX
    props = one["properties"]
    assert props["user"]["maxLength"] == limits.USER_MAX
    assert props["exp"]["maxLength"] == limits.KEY_MAX
    assert props["variant"]["maxLength"] == limits.VARIANT_MAX
    assert props["event"]["pattern"] == limits.EVENT_RE.pattern
    assert props["value"]["maximum"] == limits.VALUE_MAX


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ({"variants": [f"v{i}" for i in range(26)]}, True),
        ({"variants": [f"v{i}" for i in range(27)]}, False),
        ({"variants": ["a" * 64, "b"]}, True),
        ({"variants": ["a" * 65, "b"]}, False),
        ({"variants": ["a", "b"], "weights": [1_000_000, 1]}, True),
        ({"variants": ["a", "b"], "weights": [1_000_001, 1]}, False),
        ({"variants": ["a", "b"], "salt": "s" * 200}, True),
        ({"variants": ["a", "b"], "salt": "s" * 201}, False),
    ],
)
def test_definition_limits_at_the_boundary(raw, ok):
    if ok:
        assert parse_definition("k", raw).variants == raw["variants"]
    else:
        with pytest.raises(ConfigError):
            parse_definition("k", raw)


def test_key_limit_at_the_boundary():
    assert parse_definition("k" * 64, {"variants": ["a", "b"]}).key == "k" * 64
    with pytest.raises(ConfigError, match="must match"):
        parse_definition("k" * 65, {"variants": ["a", "b"]})
