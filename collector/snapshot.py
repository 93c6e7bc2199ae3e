"""Publishes a consistent read-only copy of the live database for readers, by atomic replace.

DuckDB locks the live file against every other process, so the dashboard, digest and notebooks
read this copy. It is written on a cursor of the writer's connection (its own transaction, so a
consistent snapshot while polls keep committing), into a temp file, then os.replace()d.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


def _sql_string(value: str) -> str:
    """A SQL string literal. ATTACH takes no bound parameters; the path comes from settings."""
    return "'" + value.replace("'", "''") + "'"


def publish_snapshot(con: duckdb.DuckDBPyConnection, db_path: str | Path, snapshot_path: str | Path) -> float:
    """Copy the live database to snapshot_path atomically; returns seconds taken."""
    t0 = time.perf_counter()
    snap = Path(snapshot_path)
    snap.parent.mkdir(parents=True, exist_ok=True)
    tmp = snap.with_name(f".{snap.stem}.publishing.duckdb")
    for p in (tmp, tmp.with_name(tmp.name + ".wal")):
        p.unlink(missing_ok=True)
    source = Path(db_path).stem           # COPY FROM DATABASE takes the catalog name (file stem)
    cur = con.cursor()
    try:
        cur.execute("ATTACH " + _sql_string(str(tmp)) + " AS tp_snapshot_tmp")
        try:
            cur.execute("BEGIN")
            cur.execute("COPY FROM DATABASE " + _quote_ident(source) + " TO tp_snapshot_tmp")
            cur.execute("COMMIT")
        finally:
            cur.execute("DETACH tp_snapshot_tmp")
    finally:
        cur.close()
    os.replace(tmp, snap)
    return time.perf_counter() - t0


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
