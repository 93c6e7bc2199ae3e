"""DESIGN.md's import rules, checked over every import statement (module level and inside functions).

dashboard -> analytics and the settings leaf; collector -> analytics and the settings leaf; analytics ->
the settings leaf only; the leaf imports no product package; nothing imports dashboard; the simulator
imports no product package. The launcher commands may start the simulator (DESIGN: "tests, bench and
the launcher may start it"), and that is the only way collector reaches it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = {"collector", "analytics", "dashboard", "simulator", "tablepulse_settings"}
LEAF = "tablepulse_settings"

ALLOWED: dict[str, set[str]] = {
    "dashboard": {"dashboard", "analytics", LEAF},
    "collector": {"collector", "analytics", LEAF},
    "analytics": {"analytics", LEAF},
    "simulator": {"simulator"},
    LEAF: set(),
}
# (importing module, imported package): the launcher starts the bundled market in-process
EXCEPTIONS = {("collector.cli", "simulator")}


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
    return out


def _sources(root: Path, package: str) -> list[Path]:
    single = root / f"{package}.py"
    return [single] if single.exists() else sorted((root / package).rglob("*.py"))


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for package, allowed in ALLOWED.items():
        for path in _sources(root, package):
            module = _module_name(root, path)
            for line, imported in _imports(path):
                if imported not in PRODUCT or imported in allowed or (module, imported) in EXCEPTIONS:
                    continue
                bad.append(f"{path.relative_to(root)}:{line}: {package} imports {imported}")
    return bad


def test_every_package_exists() -> None:
    for package in ALLOWED:
        assert _sources(ROOT, package), f"no sources for {package}: the contract checks nothing there"


def test_design_import_rules_hold() -> None:
    assert violations() == []


@pytest.mark.parametrize(("package", "imported"), [("analytics", "collector"), ("simulator", "analytics"),
                                                   (LEAF, "collector"), ("collector", "dashboard")])
def test_the_check_catches_a_forbidden_import(tmp_path: Path, package: str, imported: str) -> None:
    """The checker itself: a planted forbidden import (inside a function, where lazy imports hide) is found."""
    fake = tmp_path / package
    fake.mkdir()
    (fake / "mod.py").write_text(f"def f():\n    import {imported}.x\n")
    assert violations(tmp_path) == [f"{package}/mod.py:2: {package} imports {imported}"]
