"""Every page renders without an exception on the demo database and on an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash_app import PAGES, app, use_db


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_demo_db(page: str, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_db(monkeypatch, demo_db)
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value
    assert not at.error


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_db(page: str, empty_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_db(monkeypatch, empty_db)
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    # every empty page says why instead of drawing empty charts
    assert at.info, f"{page}: no explained empty state"


@pytest.mark.parametrize("page", ["pulse", "venue"])
def test_a_page_run_opens_one_connection_and_closes_it(page: str, demo_db: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    import analytics.db

    opened: list[duckdb.DuckDBPyConnection] = []
    real = analytics.db.connect

    def counting(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        con = real(path, read_only)
        opened.append(con)
        return con

    use_db(monkeypatch, demo_db)
    monkeypatch.setattr(analytics.db, "connect", counting)
    at = app(page, {"venue": "1001"} if page == "venue" else None)
    assert not at.exception, [e.value for e in at.exception]
    assert len(opened) == 1                     # every cache miss of the run shared it
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("SELECT 1")           # closed when the run ended
