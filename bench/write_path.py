"""write_path: transitions per second through the store (Arrow batch, one transaction) vs row-by-row
executemany of the same rows, in the same run, on fresh DuckDB files with the real schema."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import time as dtime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from bench.common import result
from collector.store.writer import Store

SIZES = {"small": 100_000, "default": 1_000_000, "large": 5_000_000}


def transitions(n: int, seed: int = 1) -> pa.Table:
    """Rows shaped like the poller's availability_events batch."""
    rng = np.random.default_rng(seed)
    obs = np.datetime64("2026-11-01") + rng.integers(0, 14 * 86400, n).astype("timedelta64[s]")
    venue = rng.integers(1, 5000, n)
    day = np.datetime64("2026-11-01") + rng.integers(0, 14, n).astype("timedelta64[D]")
    kinds = np.array(["NEW_DROP", "CLOSED", "EXPIRED", "BASELINE_AVAILABLE"])[rng.integers(0, 4, n)]
    iid = np.char.add("resy|", np.arange(n).astype(str))

    def enc(v: Any) -> pa.Array:
        return pa.array(v).dictionary_encode()
    return pa.table({
        "event_id": pa.array(np.char.add(np.char.add(iid, "|"), kinds)),
        "event_type": enc(kinds), "provider": enc(np.full(n, "resy")),
        "venue_id": pa.array(venue, pa.int64()), "slot_date": pa.array(day, pa.date32()),
        "slot_time": pa.array(np.full(n, dtime(19, 0)), pa.time64("us")),
        "party_size": pa.array(rng.choice([2, 4], n), pa.int16()),
        "table_type": enc(np.array(["Dining Room", "Bar"])[rng.integers(0, 2, n)]),
        "bucket_id": enc(np.char.add(day.astype(str), "_19:00")), "bucket_date": pa.array(day, pa.date32()),
        "time_bucket": enc(np.full(n, "prime")), "interval_id": pa.array(iid),
        "observed_at": pa.array(obs, pa.timestamp("us")), "observed_local": pa.array(obs, pa.timestamp("us")),
        "prev_poll_at": pa.array(obs - np.timedelta64(30, "s"), pa.timestamp("us")),
        "duration_s": pa.array(rng.exponential(120, n)), "is_release": pa.array(rng.random(n) < 0.1),
        "poll_id": enc(np.char.add("poll", (np.arange(n) // 200).astype(str))),
    })


def run(size: str) -> Iterator[dict[str, Any]]:
    n = SIZES[size]
    tbl = transitions(n)
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "w.duckdb").start()

        def bulk(c: Any) -> None:
            c.register("tp_bench", tbl)
            c.execute("INSERT INTO availability_events SELECT * FROM tp_bench")
            c.unregister("tp_bench")
        t0 = time.perf_counter()
        store.write(bulk, timeout=None)
        bulk_rate = n / (time.perf_counter() - t0)

        m = 3000   # executemany is ~1k rows/s: a few thousand rows give a stable rate
        rows = [tuple(r.values()) for r in tbl.slice(0, m).to_pylist()]
        sql = "INSERT INTO availability_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        assert sql.count("?") == tbl.num_columns

        def many(c: Any) -> None:
            c.execute("DELETE FROM availability_events")
            c.executemany(sql, rows)
        t0 = time.perf_counter()
        store.write(many, timeout=None)
        row_rate = m / (time.perf_counter() - t0)
        store.close()
    yield result("write_path", "bulk_rows_per_s", bulk_rate, "rows/s", target=1_000_000, higher_is_better=True)
    yield result("write_path", "bulk_vs_executemany", bulk_rate, "rows/s", baseline=row_rate,
                 higher_is_better=True, ratio_target=300)
