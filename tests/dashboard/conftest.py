"""Fixtures: a seeded synthetic database (bench.synth + metric tables) and an empty migrated one.

Each AppTest points the app at a file through TABLEPULSE_DB_PATH / TABLEPULSE_SNAPSHOT_PATH and
clears the dashboard's caches so two databases never share cached results.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from dash_fill import fill

from analytics.db import connect
from bench.synth import make_synthetic_db
from collector.store.migrate import migrate

END = date(2026, 11, 14)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    make_synthetic_db(p, venues=60, days=14, events=30_000, seed=3, end=END)
    fill(p, today=END + timedelta(days=1))
    return p


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("empty") / "empty.duckdb"
    con = duckdb.connect(str(p))
    migrate(con)
    con.close()
    return p


@pytest.fixture
def sql(demo_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    # same config as the app's reader connections (DuckDB refuses two configs for one file)
    con = connect(demo_db, read_only=True)
    yield con
    con.close()
