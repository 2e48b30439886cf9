"""The shape every app keeps: HTTP-free services, short functions, short modules."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["echopilot", "support", "flags", "experiments", "costs", "incidents"]
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def app_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def service_modules() -> list[Path]:
    """Every `services`/`selectors` module or package of the apps."""
    return [
        path for path in app_modules() if {"services", "selectors"} & {path.stem, path.parent.name}
    ]


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_walk_finds_every_apps_services():
    apps = {path.relative_to(ROOT).parts[0] for path in service_modules()}
    assert {"support", "flags", "experiments", "costs", "incidents"} <= apps


@pytest.mark.parametrize("path", service_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_do_not_know_http(path):
    imports = imported_modules(ast.parse(path.read_text()))
    http = sorted(
        m
        for m in imports
        if m.split(".")[0] == "rest_framework" or m in {"django.http", "echopilot.errors"}
    )
    assert not http, f"{path.relative_to(ROOT)} imports {http}: raise echopilot.exceptions"


def long_functions(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} ({length} lines, line {node.lineno})")
    return found


def test_the_length_check_catches_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def short():\n    pass\n\ndef long():\n{body}\n") == [
        f"long ({MAX_FUNCTION_LINES + 1} lines, line 4)"
    ]


@pytest.mark.parametrize("path", app_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_and_modules_stay_short(path):
    source = path.read_text()
    lines = source.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it into a package"
    assert not long_functions(source), f"functions over {MAX_FUNCTION_LINES} lines"
