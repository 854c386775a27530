"""Every hook in wasmcache/hookspecs.py is documented and tested (datasette's approach).

A new hook fails these tests until it has a docstring with ``:param NAME:`` for each argument,
a ``### `hook_name(...)` `` section in docs/backends.md, and a test somewhere under tests/ or
plugins/*/tests/ that names it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from wasmcache import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "backends.md"
SPEC_MARK = f"{hookspecs.PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets

HOOKS = {name: func for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(func, SPEC_MARK)}


def test_there_are_hooks() -> None:
    assert "wasmcache_register_backends" in HOOKS


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_a_docstring_with_every_parameter(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert doc.strip(), f"{name} has no docstring"
    for param in inspect.signature(HOOKS[name]).parameters:
        assert f":param {param}:" in doc, f"{name}'s docstring lacks ':param {param}:'"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_has_a_section_in_docs_backends(name: str) -> None:
    params = ", ".join(inspect.signature(HOOKS[name]).parameters)
    heading = f"### `{name}({params})`"
    text = DOCS.read_text()
    assert heading in text, f"docs/backends.md lacks the section {heading!r}"
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    for param in inspect.signature(HOOKS[name]).parameters:
        assert f"`{param}`" in section, f"docs/backends.md does not describe {name}'s {param}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_is_named_by_a_test(name: str) -> None:
    this = Path(__file__).resolve()
    test_files = [*(ROOT / "tests").rglob("test_*.py"),
                  *(ROOT / "plugins").glob("*/tests/test_*.py")]
    users = [path for path in test_files if path.resolve() != this and name in path.read_text()]
    assert users, f"no test under tests/ or plugins/*/tests names the hook {name}"


def test_docs_mention_no_hook_that_does_not_exist() -> None:
    for line in DOCS.read_text().splitlines():
        if line.startswith("### `wasmcache_"):
            assert line[5:].split("(", 1)[0] in HOOKS, line
