"""The docs stay true: every make target they name exists, every setting the
project reads is documented, and the config examples they show load."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from echopilot.management.commands.load_configs import LOADERS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)


def docs_text() -> str:
    return "\n".join(path.read_text() for path in DOCS)


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))


def settings_read() -> set[str]:
    """Every environment variable the settings module and bin/run read."""
    settings = (ROOT / "echopilot" / "settings.py").read_text()
    names = set(
        re.findall(r"\b_(?:bool|str|path|list|float|int)\(\s*\"([A-Z][A-Z0-9_]+)\"", settings)
    )
    names |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", settings))
    run = (ROOT / "bin" / "run").read_text()
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", run))
    names |= set(re.findall(r"\$\(setting ([A-Z][A-Z0-9_]+)", run))
    return names


def test_every_make_target_named_in_the_docs_exists():
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", docs_text()))
    assert {"run", "test"} <= named
    assert named - make_targets() == set()


def test_the_settings_scan_finds_settings_of_every_kind():
    found = settings_read()
    assert {"DASHBOARD_KEY", "IMAP_PORT", "DEBUG", "ECHOPILOT_LOG_DIR", "PORT"} <= found


def test_every_setting_the_project_reads_is_documented():
    text = docs_text()
    undocumented = sorted(name for name in settings_read() if f"`{name}`" not in text)
    assert undocumented == []


def config_examples() -> list[tuple[str, str, str]]:
    """(doc, file, text) of each block fenced as ```json configs/<file>."""
    found = []
    for path in DOCS:
        for info, body in FENCE.findall(path.read_text()):
            words = info.split()
            if len(words) == 2 and words[0] == "json" and words[1].startswith("configs/"):
                found.append((path.name, words[1].removeprefix("configs/"), body))
    return found


def test_there_is_an_example_of_every_config_file():
    shown = {name for _, name, _ in config_examples()}
    assert {filename for filename, _, _ in LOADERS} <= shown


@pytest.mark.django_db
@pytest.mark.parametrize("doc, filename, text", config_examples(), ids=lambda v: str(v)[:30])
def test_config_examples_in_the_docs_load(settings, tmp_path, doc, filename, text):
    (tmp_path / filename).write_text(text)
    settings.CONFIG_DIR = tmp_path
    out = StringIO()
    call_command("load_configs", stdout=out)
    assert f"skipped {filename}" not in out.getvalue()
