"""Fixtures: one synthetic market database (bench.synth + the real nightly aggregation) and the
digest bundle of its last complete week, built once per session through the CLI entry point."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from demo import add_alerts

from analytics import nightly
from analytics.db import connect
from analytics.digest.queries import local_midnight_utc
from bench.synth import make_synthetic_db
from collector.store.migrate import migrate

END = date(2026, 11, 22)          # a Sunday: 2026-W47 is the last complete week
WEEK = "2026-W47"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TZ = "America/New_York"


def settings_for(db: Path, **kw: object) -> SimpleNamespace:
    base = dict(db_path=str(db), snapshot_path=str(db.with_suffix(".no-snapshot")), timezone=TZ, min_sample=10,
                tap_window_s=1800, book_window_s=86400)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture(scope="session")
def digest_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("digestdb") / "demo.duckdb"
    make_synthetic_db(p, venues=60, days=14, events=30_000, seed=3, end=END)
    con = connect(p)
    try:
        nightly.recompute(con, tz=TZ, min_sample=10, today=date(2026, 11, 23))
        # alerts for the digest week's drops (market-local week -> UTC bounds)
        add_alerts(con, local_midnight_utc(date(2026, 11, 16), TZ), local_midnight_utc(date(2026, 11, 23), TZ))
    finally:
        con.close()
    return p


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
