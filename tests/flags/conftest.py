"""Flags fixtures: a private config dir, a fresh snapshot per test, a steppable clock."""

import json
import shutil

import pytest

from flags import snapshot
from tests.conftest import ROOT

SEED = json.loads((ROOT / "configs" / "flags.json").read_text())


@pytest.fixture(autouse=True)
def _flags_isolated(settings, tmp_path):
    """Never touch the real configs/; never reuse another test's snapshot."""
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    shutil.copy(ROOT / "configs" / "flags.json", config_dir / "flags.json")
    settings.CONFIG_DIR = config_dir
    snapshot.invalidate()
    yield
    snapshot.invalidate()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """Replace the snapshot's monotonic clock so tests step time without sleeping."""
    fake = FakeClock()
    monkeypatch.setattr(snapshot, "clock", fake)
    return fake


@pytest.fixture
def seeded(db, django_capture_on_commit_callbacks):
    """The seed flags, loaded the way `manage.py load_configs` does.

    Its commit callbacks run as a real commit's would, so the seed's NDJSON lines
    are written now, not by the first commit of the test.
    """
    from flags import config

    with django_capture_on_commit_callbacks(execute=True):
        config.flags_load()
    return SEED


@pytest.fixture(autouse=True)
def _usage_isolated():
    """Counts of one test never flush into another's database."""
    from flags import usage

    usage.BACKGROUND = False  # tests flush explicitly (or turn it on)
    usage.reset()
    yield
    usage.reset()
    usage.BACKGROUND = False
    usage._wake.set()  # the writer drops its connection (the test database can go)
