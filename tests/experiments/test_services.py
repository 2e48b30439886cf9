"""Services: exposures, events, status, definitions, config loading, results."""

import json
import random

import pytest
from django.db import connection
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from echopilot.errors import status_for
from echopilot.exceptions import Conflict, ServiceError
from experiments import selectors, services
from experiments.models import Event, Experiment, Exposure, Status
from experiments.services.sql import insert_exposures
from tests.conftest import read_ndjson
from tests.experiments import references as ref


def codes(exc_info):
    """Return the error's code and the HTTP status the API answers it with."""
    return exc_info.value.code, status_for(exc_info.value)


# --- assignment and exposures -----------------------------------------------------


def test_first_assign_stores_one_exposure_and_one_line(seeded, log_dir, committed):
    with committed():
        result = services.assign(experiment="pricing_v2", user="user123", actor="api:k")
    assert result == {
        "user": "user123",
        "experiment": "pricing_v2",
        "variant": "A",
        "description": "Test new pricing page design",
    }
    with committed() as callbacks:
        services.assign(experiment="pricing_v2", user="user123", actor="api:k")
    assert callbacks == []
    assert list(Exposure.objects.values_list("user", "variant")) == [("user123", "A")]
    lines = [x for x in read_ndjson(log_dir, "experiments") if x["type"] == "exposure"]
    assert len(lines) == 1
    assert lines[0]["user"] == "user123" and lines[0]["variant"] == "A"
    assert lines[0]["actor"] == "api:k" and lines[0]["ts_iso"].endswith("Z")


def test_repeat_assign_is_a_single_read(seeded, django_assert_num_queries):
    services.assign(experiment="onboarding_flow", user="alice", actor="t")
    with django_assert_num_queries(1) as ctx:
        result = services.assign(experiment="onboarding_flow", user="alice", actor="t")
    assert result["variant"] == "guided"
    assert ctx.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_assign_without_record_writes_nothing(seeded):
    services.assign(experiment="pricing_v2", user="bob", actor="cli", record=False)
    assert not Exposure.objects.exists()


def test_paused_serves_the_control_to_everyone_and_exposes_nobody(seeded, log_dir):
    services.assign(experiment="pricing_v2", user="bob", actor="t")  # bob -> B
    services.experiment_set_status(key="pricing_v2", status=Status.PAUSED, actor="t")
    assert services.assign(experiment="pricing_v2", user="bob", actor="t")["variant"] == "A"
    new = services.assign(experiment="pricing_v2", user="carol-b", actor="t")
    assert new["variant"] == "A"
    assert list(Exposure.objects.values_list("user", flat=True)) == ["bob"]
    # Events still carry bob's own variant: his exposure's, not the served control.
    out = services.log_event(event="conversion", user="bob", experiment="pricing_v2", actor="t")
    assert out["variant"] == "B"
    with pytest.raises(ServiceError) as e:
        services.log_event(
            event="conversion", user="bob", experiment="pricing_v2", variant="A", actor="t"
        )
    assert codes(e) == ("variant_mismatch", 409) and e.value.extra["expected"] == "B"


def test_stopped_serves_the_winner_or_control(seeded, make_exp):
    services.assign(experiment="pricing_v2", user="user123", actor="t")  # A
    services.experiment_set_status(key="pricing_v2", status="stopped", winner="B", actor="t")
    assert services.assign(experiment="pricing_v2", user="user123", actor="t")["variant"] == "B"
    assert services.assign(experiment="pricing_v2", user="new", actor="t")["variant"] == "B"
    services.experiment_set_status(key="onboarding_flow", status="stopped", actor="t")
    assert services.assign(experiment="onboarding_flow", user="alice", actor="t")["variant"] == (
        "standard"
    )
    assert Exposure.objects.count() == 1


def test_stopped_cannot_resume_and_winner_must_be_a_variant(seeded):
    with pytest.raises(ServiceError) as e:
        services.experiment_set_status(key="pricing_v2", status="stopped", winner="Z", actor="t")
    assert codes(e) == ("unknown_variant", 400)
    services.experiment_set_status(key="pricing_v2", status="stopped", actor="t")
    with pytest.raises(ServiceError) as e:
        services.experiment_set_status(key="pricing_v2", status="running", actor="t")
    assert codes(e) == ("experiment_stopped", 409)


def test_unknown_experiment_and_bad_user(seeded):
    with pytest.raises(ServiceError) as e:
        services.assign(experiment="nope", user="u", actor="t")
    assert codes(e) == ("unknown_experiment", 404)
    for user in ["", "   ", "x" * 201]:
        with pytest.raises(ServiceError) as e:
            services.assign(experiment="pricing_v2", user=user, actor="t")
        assert codes(e) == ("invalid", 400)
    assert services.assign(experiment="pricing_v2", user="x" * 200, actor="t")["variant"]


def test_exposure_insert_if_absent_reports_only_new_rows(seeded):
    exp = Experiment.objects.get(key="pricing_v2")
    from django.utils import timezone

    first = insert_exposures([(exp.id, "a", "A"), (exp.id, "b", "B")], timezone.now())
    again = insert_exposures([(exp.id, "a", "A"), (exp.id, "c", "A")], timezone.now())
    assert first == {(exp.id, "a"), (exp.id, "b")}
    assert again == {(exp.id, "c")}
    assert Exposure.objects.count() == 3


# --- events -----------------------------------------------------------------------


def test_event_exposes_an_unexposed_user_while_running(seeded, log_dir, committed):
    with committed():
        out = services.log_event(
            event="conversion", user="user123", experiment="pricing_v2", variant="A", actor="t"
        )
    assert out["stored"] == 1 and out["exposures_recorded"] == 1
    assert Exposure.objects.get().variant == "A"
    types = [x["type"] for x in read_ndjson(log_dir, "experiments")]
    assert types.count("exposure") == 1 and types.count("event") == 1


def test_variant_mismatch_names_the_expected_variant(seeded, log_dir):
    with pytest.raises(ServiceError) as e:
        services.log_event(
            event="conversion", user="user123", experiment="pricing_v2", variant="B", actor="t"
        )
    assert codes(e) == ("variant_mismatch", 409)
    assert e.value.extra["expected"] == "A" and "'A'" in str(e.value.detail)
    assert not Event.objects.exists() and not Exposure.objects.exists()


def test_paused_accepts_only_exposed_users(seeded):
    services.assign(experiment="pricing_v2", user="bob", actor="t")
    services.experiment_set_status(key="pricing_v2", status="paused", actor="t")
    services.log_event(event="conversion", user="bob", experiment="pricing_v2", actor="t")
    with pytest.raises(ServiceError) as e:
        services.log_event(event="conversion", user="nobody", experiment="pricing_v2", actor="t")
    assert codes(e) == ("not_exposed", 409)
    assert Event.objects.count() == 1 and Exposure.objects.count() == 1


def test_stopped_refuses_events(seeded):
    services.assign(experiment="pricing_v2", user="bob", actor="t")
    services.experiment_set_status(key="pricing_v2", status="stopped", actor="t")
    with pytest.raises(ServiceError) as e:
        services.log_event(event="conversion", user="bob", experiment="pricing_v2", actor="t")
    assert codes(e) == ("experiment_stopped", 409)


def test_batch_is_all_or_nothing_and_names_the_first_bad_index(seeded, log_dir, committed):
    good = {"event": "purchase", "user": "user123", "exp": "pricing_v2", "value": 9.5}
    bad = {"event": "purchase", "user": "bob", "exp": "pricing_v2", "variant": "A"}
    with committed(), pytest.raises(ServiceError) as e:
        services.log_events(events=[good, good, bad, bad], actor="t")
    assert codes(e) == ("variant_mismatch", 409)
    assert e.value.extra["index"] == 2 and str(e.value.detail).startswith("event 2:")
    assert not Event.objects.exists() and not Exposure.objects.exists()
    assert read_ndjson(log_dir, "experiments") == []

    batch = [
        {"event": "purchase", "user": f"u{i}", "exp": "onboarding_flow", "value": i}
        for i in range(1000)
    ]
    with committed():
        out = services.log_events(events=batch, actor="t")
    assert out["stored"] == 1000 and out["exposures_recorded"] == 1000
    assert Event.objects.count() == 1000 and Exposure.objects.count() == 1000
    assert len([x for x in read_ndjson(log_dir, "experiments") if x["type"] == "event"]) == 1000


def test_batch_limits_and_bad_fields(seeded):
    item = {"event": "c", "user": "u", "exp": "pricing_v2"}
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[item] * 1001, actor="t")
    assert e.value.code == "batch_too_large"
    for bad in [
        {**item, "event": "has space"},
        {**item, "event": "x" * 65},
        {**item, "user": ""},
        {**item, "value": "12"},
        {**item, "value": True},
    ]:
        with pytest.raises(ServiceError) as e:
            services.log_events(events=[item, bad], actor="t")
        assert codes(e) == ("invalid", 400) and e.value.extra["index"] == 1
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[{**item, "variant": "C"}], actor="t")
    assert codes(e) == ("unknown_variant", 400)
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[{**item, "exp": "nope"}], actor="t")
    assert codes(e) == ("unknown_experiment", 404)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("status", "batch", "code", "http"),
    [
        # Each later event fails a check that used to run in an earlier pass.
        (
            "running",
            [{"event": "c", "user": "u", "exp": "nope"}, {"event": "bad name", "user": "u"}],
            "unknown_experiment",
            404,
        ),
        (
            "paused",
            [
                {"event": "c", "user": "nobody", "exp": "pricing_v2"},
                {"event": "c", "user": "bob", "exp": "pricing_v2", "variant": "A"},
            ],
            "not_exposed",
            409,
        ),
        (
            "running",
            [
                {"event": "c", "user": "bob", "exp": "pricing_v2", "variant": "A"},
                {"event": "c", "user": "", "exp": "pricing_v2"},
            ],
            "variant_mismatch",
            409,
        ),
        (
            "running",
            [
                {"event": "c", "user": "bob", "exp": "pricing_v2", "variant": "Z"},
                {"event": "c", "user": "bob", "exp": "nope"},
            ],
            "unknown_variant",
            400,
        ),
    ],
)
def test_batch_reports_the_lowest_failing_index(seeded, status, batch, code, http):
    services.assign(experiment="pricing_v2", user="bob", actor="t")  # bob -> B
    services.experiment_set_status(key="pricing_v2", status=status, actor="t")
    with pytest.raises(ServiceError) as e:
        services.log_events(events=batch, actor="t")
    assert codes(e) == (code, http) and e.value.extra["index"] == 0
    assert not Event.objects.exists()


def test_parse_problems_are_reported_in_their_turn(seeded):
    good = {"event": "c", "user": "u", "exp": "pricing_v2"}
    # The caller's parse problem at index 1 comes after an unknown experiment at 0 ...
    with pytest.raises(ServiceError) as e:
        services.log_events(
            events=[{**good, "exp": "nope"}, {"raw": 1}], problems={1: "x: bad"}, actor="t"
        )
    assert codes(e) == ("unknown_experiment", 404) and e.value.extra == {"index": 0}
    # ... and before anything wrong with a later event, even one that looks fine.
    with pytest.raises(ServiceError) as e:
        services.log_events(
            events=[good, {**good}, {**good, "variant": "Z"}], problems={1: "x: bad"}, actor="t"
        )
    assert codes(e) == ("invalid", 400) and e.value.extra == {"index": 1}
    assert str(e.value.detail) == "event 1: x: bad"
    # Unindexed (a single event): the text alone, no index.
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[good], problems={0: "x: bad"}, indexed=False, actor="t")
    assert codes(e) == ("invalid", 400) and e.value.extra == {}
    assert str(e.value.detail) == "x: bad"
    assert not Event.objects.exists() and not Exposure.objects.exists()


def test_indexed_errors_keep_their_kind_and_extra_fields(seeded):
    batch = [
        {"event": "c", "user": "u", "exp": "pricing_v2"},
        {"event": "c", "user": "user123", "exp": "pricing_v2", "variant": "B"},
    ]
    with pytest.raises(Conflict) as e:
        services.log_events(events=batch, actor="t")
    assert e.value.code == "variant_mismatch"
    assert e.value.extra == {"index": 1, "expected": "A"}
    assert str(e.value.detail).startswith("event 1: User 'user123' is assigned 'A'")


def test_empty_batch_is_refused(seeded):
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[], actor="t")
    assert codes(e) == ("invalid", 400) and "empty" in str(e.value.detail)


@pytest.mark.parametrize("value", [1e15 + 1, -(10**16), 10**400, 1.7e308])
def test_values_beyond_the_cap_are_refused(seeded, value):
    item = {"event": "buy", "user": "u", "exp": "pricing_v2", "value": value}
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[item], actor="t")
    assert codes(e) == ("invalid", 400) and "value" in str(e.value.detail)
    services.log_events(events=[{**item, "value": 1e15}, {**item, "value": -1e15}], actor="t")
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "conversion\n"},
        {"event": " conversion"},
        {"exp": "pricing_v2\n"},
        {"variant": "A\n"},
    ],
)
def test_names_with_whitespace_or_newline_are_refused(seeded, bad):
    item = {"event": "conversion", "user": "user123", "exp": "pricing_v2", **bad}
    with pytest.raises(ServiceError) as e:
        services.log_events(events=[item], actor="t")
    assert status_for(e.value) in (400, 404)
    with pytest.raises(ServiceError):
        selectors.results(experiment="pricing_v2", event="conversion\n")
    assert not Event.objects.exists() and not Exposure.objects.exists()


# --- definitions ------------------------------------------------------------------


def test_create_validates_and_defaults(make_exp):
    exp = make_exp(key="checkout", variants=["c", "t"])
    assert exp.salt == "checkout" and exp.weights == [1, 1]
    bad = [
        ({"variants": []}, "non-empty"),
        ({"variants": ["a", "a"]}, "duplicate"),
        ({"variants": ["a", "b"], "weights": [1]}, "one weight per variant"),
        ({"variants": ["a", "b"], "weights": [1, 0]}, "positive integer"),
        ({"variants": ["a", "b"], "weights": [1, 1.5]}, "positive integer"),
        ({"variants": ["a", "b"], "weights": [1, True]}, "positive integer"),
    ]
    for i, (kwargs, text) in enumerate(bad):
        with pytest.raises(ServiceError) as e:
            make_exp(key=f"bad{i}", **kwargs)
        assert status_for(e.value) == 400 and text in str(e.value.detail)
    with pytest.raises(ServiceError) as e:
        make_exp(key="other", salt="checkout")
    assert codes(e) == ("duplicate_salt", 409)
    with pytest.raises(ServiceError) as e:
        make_exp(key="checkout")
    assert codes(e) == ("experiment_exists", 409)


def test_variants_weights_and_salt_lock_after_exposure(make_exp):
    make_exp(key="w", variants=["A", "B"], weights=[90, 10])
    services.experiment_update(key="w", weights=[50, 50], actor="t")  # no exposure yet
    services.assign(experiment="w", user="u6", actor="t")
    for change in [{"weights": [90, 10]}, {"variants": ["A", "C"]}, {"salt": "new"}]:
        with pytest.raises(ServiceError) as e:
            services.experiment_update(key="w", actor="t", **change)
        assert codes(e) == ("experiment_locked", 409)
    services.experiment_update(key="w", description="still editable", actor="t")
    exp = Experiment.objects.get(key="w")
    assert exp.weights == [50, 50] and exp.description == "still editable"


# --- config loading ---------------------------------------------------------------


def test_load_creates_then_reports_without_overwriting(config_dir, db):
    out = services.load_config()
    assert [(r.key, r.action) for r in out] == [
        ("pricing_v2", "created"),
        ("onboarding_flow", "created"),
    ]
    assert [r.action for r in services.load_config()] == ["unchanged", "unchanged"]
    data = json.loads((config_dir / "experiments.json").read_text())
    data["pricing_v2"]["weights"] = [90, 10]
    (config_dir / "experiments.json").write_text(json.dumps(data))
    out = services.load_config()
    assert out[0].action == "differs" and "weights" in out[0].detail
    assert Experiment.objects.get(key="pricing_v2").weights == [1, 1]
    services.assign(experiment="pricing_v2", user="u", actor="t")
    with pytest.raises(ServiceError) as e:
        services.load_config(update=True)
    assert e.value.code == "experiment_locked"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"e": {"variants": []}}', "e: 'variants' must be a non-empty list"),
        ('{"e": {"variants": ["a", "a"]}}', "duplicate variants: a"),
        ('{"e": {"variants": ["a", "b"], "weights": [1, 2, 3]}}', "3 weights for 2 variants"),
        ('{"e": {"variants": ["a", "b"], "weights": [-1, 2]}}', "positive integer"),
        ('{"e": {"variants": ["a", "b"], "colour": 1}}', "unknown field(s) colour"),
        (
            '{"e": {"variants": ["a", "b"], "salt": "S"},'
            ' "f": {"variants": ["a", "b"], "salt": "S"}}',
            "salt 'S' is also used by 'e'",
        ),
        ('{"e": {"variants": ["a", "b"]}, "e": {"variants": ["c", "d"]}}', "duplicate key 'e'"),
        ('{"e": {"variants": ["a", "b"], "variants": ["c", "d"]}}', "duplicate key 'variants'"),
        ('{"e\\n": {"variants": ["a", "b"]}}', "must match"),
    ],
)
def test_bad_config_names_the_problem_and_stores_nothing(config_dir, db, text, needle):
    (config_dir / "experiments.json").write_text(text)
    with pytest.raises(ServiceError) as e:
        services.load_config()
    assert needle in str(e.value.detail)
    assert not Experiment.objects.exists()


def test_config_salt_clash_with_database(config_dir, make_exp):
    make_exp(key="legacy", salt="ECHO2025")
    with pytest.raises(ServiceError) as e:
        services.load_config()
    assert e.value.code == "duplicate_salt"
    assert list(Experiment.objects.values_list("key", flat=True)) == ["legacy"]


# --- results ----------------------------------------------------------------------


def _seed_events(exp_key, n_users, rates, rng):
    """Expose n users and log conversions with the given per-variant probabilities."""
    batch = []
    for i in range(n_users):
        user = f"r{i}"
        variant = services.assign(experiment=exp_key, user=user, actor="t")["variant"]
        if rng.random() < rates[variant]:
            batch.append({"event": "conversion", "user": user, "exp": exp_key, "value": 2.5})
            if rng.random() < 0.3:  # a repeat conversion must not count twice
                batch.append({"event": "conversion", "user": user, "exp": exp_key, "value": 1})
    for start in range(0, len(batch), 1000):
        services.log_events(events=batch[start : start + 1000], actor="t")


def test_results_match_references(seeded):
    _seed_events("pricing_v2", 400, {"A": 0.10, "B": 0.18}, random.Random(4))
    data = selectors.results(experiment="pricing_v2", event="conversion")
    a, b = data["variants"]
    assert [a["variant"], b["variant"]] == ["A", "B"]
    for v in (a, b):
        users = Exposure.objects.filter(variant=v["variant"]).count()
        conv = (
            Event.objects.filter(variant=v["variant"], event="conversion")
            .values("user")
            .distinct()
            .count()
        )
        values = sum(Event.objects.filter(variant=v["variant"]).values_list("value", flat=True))
        assert (v["users"], v["converters"]) == (users, conv)
        assert abs(v["rate"] - conv / users) < 1e-12
        assert abs(v["mean_value"] - values / users) < 1e-9
        lo, hi = proportion_confint(conv, users, method="wilson")
        assert abs(v["rate_ci"][0] - lo) < 1e-6 and abs(v["rate_ci"][1] - hi) < 1e-6
    assert a["uplift_abs"] is None and a["p_value"] is None and a["prob_beat_control"] is None
    assert a["uplift_abs_ci"] is None and a["uplift_rel"] is None and a["uplift_rel_ci"] is None
    _, p = proportions_ztest([b["converters"], a["converters"]], [b["users"], a["users"]])
    assert abs(b["p_value"] - p) < 1e-6
    ref.assert_comparison(b, b["converters"], b["users"], a["converters"], a["users"])
    chi = sps.chisquare([a["users"], b["users"]])
    assert abs(data["srm"]["chi2"] - chi.statistic) < 1e-6
    assert abs(data["srm"]["p_value"] - chi.pvalue) < 1e-6
    assert 0 < b["prob_beat_control"] < 1


# (converters, users) per variant, control first: zero conversions, a control rate of 0,
# tiny samples, a control rate of 1, three variants, larger counts.
DB_FIXTURES = [
    [(0, 1), (0, 1)],
    [(0, 12), (3, 10)],
    [(1, 3), (0, 2)],
    [(2, 3), (5, 7), (0, 4)],
    [(10, 10), (9, 10)],
    [(100, 1000), (130, 1010), (90, 990)],
]


@pytest.mark.parametrize("counts", DB_FIXTURES)
def test_results_from_the_database_match_references_exactly(make_exp, counts):
    names = [f"v{i}" for i in range(len(counts))]
    exp = make_exp(key="refs", variants=names, weights=[1] * len(names))
    at = exp.created_at
    exposures, events = [], []
    for name, (x, n) in zip(names, counts, strict=True):
        for j in range(n):
            user = f"{name}-u{j}"
            exposures.append(Exposure(experiment=exp, user=user, variant=name, created_at=at))
            common = {"experiment": exp, "user": user, "variant": name, "created_at": at}
            if j < x:  # a converter, twice: counted once, both values summed
                events.append(Event(event="conversion", value=2.5, **common))
                events.append(Event(event="conversion", value=1.0, **common))
            else:  # another event name must not count
                events.append(Event(event="signup", value=100.0, **common))
    Exposure.objects.bulk_create(exposures)
    Event.objects.bulk_create(events)
    services.recount(key="refs")  # raw rows written behind the services' back

    data = selectors.results(experiment="refs", event="conversion")
    x0, n0 = counts[0]
    for i, (v, name, (x, n)) in enumerate(zip(data["variants"], names, counts, strict=True)):
        assert (v["variant"], v["users"], v["converters"]) == (name, n, x)
        ref.close(v["rate"], x / n)
        lo, hi = proportion_confint(x, n, method="wilson")
        ref.close(v["rate_ci"][0], lo)
        ref.close(v["rate_ci"][1], hi)
        ref.close(v["mean_value"], 3.5 * x / n)
        if i == 0:
            comparison = ("uplift_abs", "uplift_abs_ci", "uplift_rel", "uplift_rel_ci")
            assert all(v[k] is None for k in (*comparison, "p_value", "prob_beat_control"))
            continue
        ref.assert_comparison(v, x, n, x0, n0)
        if x + x0 == 0:
            assert v["p_value"] is None  # 0/0
        else:
            ref.close(v["p_value"], proportions_ztest([x, x0], [n, n0])[1])
    chi = sps.chisquare([n for _, n in counts])
    ref.close(data["srm"]["chi2"], chi.statistic)
    ref.close(data["srm"]["p_value"], chi.pvalue)


def test_results_with_no_data_are_null_not_nan(seeded):
    data = selectors.results(experiment="onboarding_flow", event="conversion")
    assert data["status"] == "running"
    assert [v["users"] for v in data["variants"]] == [0, 0, 0]
    assert all(v["rate"] is None and v["rate_ci"] is None for v in data["variants"])
    assert data["srm"] == {"chi2": None, "p_value": None, "srm": False}


def test_results_flag_sample_ratio_mismatch(make_exp):
    exp = make_exp(key="srm", variants=["A", "B"], weights=[1, 1])
    Exposure.objects.bulk_create(
        [
            Exposure(
                experiment=exp,
                user=f"u{i}",
                variant="A" if i < 700 else "B",
                created_at=exp.created_at,
            )
            for i in range(1000)
        ]
    )
    services.recount(key="srm")  # raw rows written behind the services' back
    data = selectors.results(experiment="srm", event="conversion")
    assert data["srm"]["srm"] is True and data["srm"]["p_value"] < 0.001


def test_results_query_count_does_not_grow_with_events(seeded, django_assert_max_num_queries):
    def measure():
        connection.queries_log.clear()
        with django_assert_max_num_queries(3) as ctx:
            selectors.results(experiment="pricing_v2", event="conversion")
        return len(ctx.captured_queries)

    small = measure()
    _seed_events("pricing_v2", 300, {"A": 0.5, "B": 0.5}, random.Random(1))
    assert measure() == small == 3
    # Results read the aggregates only, never the raw exposures or events.
    with django_assert_max_num_queries(3) as ctx:
        selectors.results(experiment="pricing_v2", event="conversion")
    tables = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "experiments_exposureday" in tables and "experiments_eventday" in tables
    assert '"experiments_event"' not in tables and '"experiments_exposure"' not in tables


def test_config_that_is_not_utf8_names_the_file(config_dir, db):
    path = config_dir / "experiments.json"
    path.write_bytes(b'{"e": {"variants": ["a", "\xff"]}}')
    with pytest.raises(ServiceError) as e:
        services.load_config()
    assert e.value.code == "invalid_experiment"
    assert f"{path}: not UTF-8 text" in str(e.value.detail)
    assert not Experiment.objects.exists()
