"""Fixtures: one synthetic market database (bench.synth + the real nightly aggregation) and the
digest bundle of its last complete week, built once per session through the CLI entry point."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from demo import END, NOW, WEEK, make_demo_db, settings_for

from analytics.db import connect
from collector.store.migrate import migrate


@pytest.fixture(scope="session")
def digest_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("digestdb") / "demo.duckdb"
    return make_demo_db(p, venues=60, days=14, events=30_000, seed=3, end=END, week=date(2026, 11, 16))


@pytest.fixture(scope="session")
def empty_digest_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("digestempty") / "empty.duckdb"
    con = duckdb.connect(str(p))
    migrate(con)
    con.close()
    return p


@pytest.fixture(scope="session")
def bundle_dir(digest_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analytics.digest.cli import main

    out = tmp_path_factory.mktemp("bundle") / "digest"
    assert main(settings_for(digest_db), week=WEEK, out=out, now=NOW) == 0
    return out


@pytest.fixture
def sql(digest_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(digest_db, read_only=True)
    yield con
    con.close()
