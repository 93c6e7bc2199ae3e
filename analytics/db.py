"""Opening DuckDB files: the writer's connection config and short read-only reader connections.

Readers prefer the published snapshot; when no service runs they may read the live file. A lock
error (the service holds the file) falls back to the snapshot instead of reaching the user.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from analytics import turnbull

# INSTALL fails offline and autoinstall stalls ~3 s (DESIGN.md); parquet/json/icu are built in.
# memory_limit: DuckDB's own default is 80% of the machine and it keeps what it read cached up to
# that; the product's budget is 2 GB for its largest job (a full recompute at 10M events), so the
# cache gives way (and a big sort spills to disk) well before.
CONFIG: dict[str, str | bool] = {"autoinstall_known_extensions": False, "TimeZone": "UTC", "memory_limit": "1GB"}


class NoDatabase(FileNotFoundError):
    """Neither the snapshot nor the live file exists yet."""


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with the product's config and the time-to-close estimator's functions
    (turnbull.register: measure_time_to_close calls them). ``":memory:"`` opens an in-memory database."""
    if not read_only and str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=dict(CONFIG))  # type: ignore[arg-type]
    turnbull.register(con)
    return con


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg or "conflicting" in msg or "being used" in msg


def pick_read_path(snapshot_path: str | Path, db_path: str | Path) -> Path:
    snap, live = Path(snapshot_path), Path(db_path)
    if snap.exists():
        return snap
    if live.exists():
        return live
    raise NoDatabase(f"no database yet: neither {snap} nor {live} exists (start the collector: `make run`)")


@contextlib.contextmanager
def read_connection(snapshot_path: str | Path, db_path: str | Path,
                    attempts: int = 5) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection to the freshest readable copy; closed on exit.

    Order: snapshot, then the live file. A snapshot being replaced or a live file locked by the
    service is retried briefly, then the other copy is tried.
    """
    last: Exception | None = None
    for i in range(attempts):
        candidates = [Path(snapshot_path), Path(db_path)]
        for p in candidates:
            if not p.exists():
                continue
            try:
                con = connect(p, read_only=True)
            except duckdb.Error as e:
                last = e
                if not _is_lock_error(e) and p == candidates[-1]:
                    raise
                continue
            try:
                yield con
                return
            finally:
                con.close()
        if last is None:
            raise NoDatabase(f"no database yet: neither {snapshot_path} nor {db_path} exists (start the collector: `make run`)")
        time.sleep(0.05 * (i + 1))
    raise NoDatabase(f"database is busy and no snapshot is readable yet ({last})")
