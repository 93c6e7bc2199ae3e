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
    """Run the entrypoint, then (optionally) switch to app_pages/PAGE.py, with URL query params."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def dataframe(at: AppTest, key: str) -> Any:
    for df in at.dataframe:
        if df.proto.id and key in df.proto.id:
            return df.value
    raise KeyError(f"no dataframe with key {key!r}; have {[d.proto.id for d in at.dataframe]}")


def chart_data(at: AppTest, index: int = 0) -> list[Any]:
    """The datasets of the INDEX-th Altair chart on the page, as pandas frames."""
    charts = at.get("vega_lite_chart")
    proto = charts[index].proto
    out = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in proto.datasets]
    if proto.data.data:
        out.append(pa.ipc.open_stream(proto.data.data).read_all().to_pandas())
    return out
