"""Experiments fixtures: a private copy of the seed config, seeded experiments, a factory."""

import json
import shutil
from pathlib import Path

import pytest

from experiments import services

SEED = Path(__file__).resolve().parents[2] / "configs" / "experiments.json"


@pytest.fixture
def config_dir(settings, tmp_path) -> Path:
    """A config dir holding a copy of the seed file (the real configs/ is never written)."""
    directory = tmp_path / "configs"
    directory.mkdir()
    shutil.copy(SEED, directory / "experiments.json")
    # `load_configs` also runs the flags loader, which wants its own file.
    if (SEED.parent / "flags.json").exists():
        shutil.copy(SEED.parent / "flags.json", directory / "flags.json")
    settings.CONFIG_DIR = directory
    return directory


@pytest.fixture
def seeded(db, config_dir):
    """The seed experiments (pricing_v2, onboarding_flow), loaded as `load_configs` does."""
    services.load_config(actor="config")
    return json.loads((config_dir / "experiments.json").read_text())


@pytest.fixture
def make_exp(db):
    def make(key="exp_t", variants=("A", "B"), weights=None, salt=None, description=""):
        return services.experiment_create(
            key=key,
            variants=list(variants),
            weights=weights,
            salt=salt,
            description=description,
            actor="test",
        )

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (the NDJSON mirror) when the block ends, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
