"""AppTest helpers shared by the dashboard tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "streamlit_app.py"
PAGES = ["pulse", "hardest", "venue", "durations", "timing", "trends", "funnels", "health"]


def use_db(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("TABLEPULSE_DB_PATH", str(path))
    monkeypatch.setenv("TABLEPULSE_SNAPSHOT_PATH", str(path.with_suffix(".missing-snapshot")))
    st.cache_data.clear()
    st.cache_resource.clear()


def app(page: str | None = None, query: dict[str, Any] | None = None) -> AppTest:
    """Open the app at app_pages/PAGE.py with URL query params, as a shared link would."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if query:
        at.query_params.update(query)
    if page:
        at.switch_page(f"app_pages/{page}.py")
    return at.run()


def dataframe(at: AppTest, *columns: str) -> Any:
    """The first table on the page having all of COLUMNS."""
    for df in at.dataframe:
        v = df.value
        if set(columns) <= set(v.columns):
            return v
    raise KeyError(f"no table with columns {columns}; have {[list(d.value.columns) for d in at.dataframe]}")


def chart_data(at: AppTest, index: int = 0) -> list[Any]:
    """The datasets of the INDEX-th Altair chart on the page, as pandas frames."""
    charts = at.get("vega_lite_chart")
    proto = charts[index].proto
    out = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in proto.datasets]
    if proto.data.data:
        out.append(pa.ipc.open_stream(proto.data.data).read_all().to_pandas())
    return out
