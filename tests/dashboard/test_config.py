"""Secure Streamlit defaults and the import rules of the dashboard."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_streamlit_config_keeps_protections_on() -> None:
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["enableCORS"] is True
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["headless"] is True
    assert cfg["client"]["showErrorDetails"] in ("none", False)
    assert cfg["client"]["toolbarMode"] == "viewer"
    assert cfg["browser"]["gatherUsageStats"] is False


def _imports(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module)
    return mods


def test_dashboard_imports_only_analytics_and_settings() -> None:
    for py in (ROOT / "dashboard").rglob("*.py"):
        for m in _imports(py):
            if m.startswith("collector"):
                assert m == "tablepulse_settings", f"{py}: imports {m}"


def test_analytics_never_imports_streamlit_or_dashboard() -> None:
    for py in (ROOT / "analytics").rglob("*.py"):
        for m in _imports(py):
            assert not m.startswith(("streamlit", "dashboard")), f"{py}: imports {m}"


def test_no_unsafe_html_and_no_formatted_sql_in_dashboard_code() -> None:
    for py in [*(ROOT / "dashboard").rglob("*.py"), ROOT / "analytics" / "views.py"]:
        text = py.read_text()
        assert "unsafe_allow_html" not in text, py
        assert ".execute(f" not in text and ".format(" not in text, py
