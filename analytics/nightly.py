"""The nightly aggregation: per-day and rolling metric tables, raw-event pruning, recompute.

Called by collector/nightly.py (the service's nightly job and the `tablepulse aggregate` /
`recompute` commands), benchmarks and tests. Takes a DuckDB connection and never opens files;
callers own the transaction (the writer's job runs in one). Every table is one SQL file in
analytics/sql named after it (grain and definition in its header); the job is the list below:
for each table, delete the range's rows and insert them again.

Keying: per-day metrics key on the market-local day on which a transition was OBSERVED (a drop on
the day of its first trusted poll, a close on the day of the first poll without it, a censored end
on the day it was recorded: slot_intervals.ended_at). A day is complete once it is over, so the run
for day D is final and re-running it is a no-op. Keying on the bucket date instead would leave
every day open for two weeks (buckets are polled 14 days ahead) and make "yesterday" a moving number.

Every metric is made from slot_intervals + open_slots + poll_ledger, which are kept forever;
availability_events (raw) are not read, so `recompute` can rebuild everything after a definition
changes. The prune step deletes raw events only for days already aggregated (day_quality has the
day), so no raw event leaves before its day's metrics exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import duckdb

from analytics.sql_loader import run, run_script

Progress = Callable[[int, int, str], None]

DEFAULT_MAX_GAP_S = 3600.0    # a gap between two trusted polls longer than this is not observed time
DEFAULT_PRIME_SLOTS = ("19:00",)
DEFAULT_GUARD_MINUTES = 60    # Settings.expiry_guard_minutes: a bucket is watched until slot time - this

# The per-day job, in order: shared inputs (TEMP tables), then one file per table. day_quality
# comes first (the others copy its `partial`), market_daily_hist sums venue_daily_hist.
DAILY_INPUTS = ("daily_inputs", "daily_open_time")
DAILY_TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "venue_hourly", "supply_daily",
                "market_daily_hist")
# The rolling job: windows (TEMP), then one file per table; market_rolling reads venue_rolling.
ROLLING_INPUTS = ("rolling_windows",)
ROLLING_TABLES = ("venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")


def aggregate_range(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, min_sample: int,
                    today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                    max_gap_s: float = DEFAULT_MAX_GAP_S,
                    guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write the per-day tables for the local days start..end inclusive. Rolling tables are not
    touched (see refresh_rolling). Returns rows written per table and `replaced` (rows deleted).

    ``today`` is kept for callers: an expiry at bucket retirement is recorded by the prune that
    follows the run, so it does not change the range's facts."""
    if end < start:
        return {t: 0 for t in DAILY_TABLES}
    d0, d1 = start, end + timedelta(days=1)
    params = {"d0": d0, "d1": d1, "tz": tz, "min_sample": int(min_sample), "prime_slots": list(prime_slots),
              "max_gap_s": float(max_gap_s), "guard_minutes": int(guard_minutes)}
    replaced = _rows(con, DAILY_TABLES, d0, d1)
    for step in (*DAILY_INPUTS, *DAILY_TABLES, "nightly_cleanup"):
        run_script(con, step, **params)
    out: dict[str, Any] = _rows(con, DAILY_TABLES, d0, d1)
    out["replaced"] = sum(replaced.values())
    return out


def refresh_rolling(con: duckdb.DuckDBPyConnection, as_of: date, *, min_sample: int,
                    until: date | None = None) -> dict[str, int]:
    """(Re)write the rolling 7/14-day tables for as_of..until (inclusive), one as_of at a time, from
    the per-day tables."""
    last = until or as_of
    day = as_of
    while day <= last:
        for step in (*ROLLING_INPUTS, *ROLLING_TABLES, "nightly_cleanup"):
            run_script(con, step, as_of=day, min_sample=int(min_sample))
        day += timedelta(days=1)
    return _rows(con, ROLLING_TABLES, as_of, last + timedelta(days=1))


def _rows(con: duckdb.DuckDBPyConnection, tables: Sequence[str], d0: date, d1: date) -> dict[str, int]:
    """Rows each of ``tables`` holds for the days [d0, d1) (metric_counts.sql)."""
    cur = run(con, "metric_counts", d0=d0, d1=d1)
    counts = dict(zip([c[0] for c in cur.description], cur.fetchall()[0], strict=True))
    return {t: int(counts[t]) for t in tables}


def aggregate_day(con: duckdb.DuckDBPyConnection, day: date, *, tz: str, min_sample: int,
                  today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                  max_gap_s: float = DEFAULT_MAX_GAP_S,
                  guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """(Re)write one local day of the per-day tables, then the rolling tables as of that day."""
    out = aggregate_range(con, day, day, tz=tz, min_sample=min_sample, today=today,
                          prime_slots=prime_slots, max_gap_s=max_gap_s, guard_minutes=guard_minutes)
    out.update(refresh_rolling(con, day, min_sample=min_sample))
    row = con.execute("SELECT partial FROM day_quality WHERE metric_date = $d", {"d": day}).fetchone()
    out["partial"] = bool(row[0]) if row else False
    return out


def aggregated_days(con: duckdb.DuckDBPyConnection) -> set[date]:
    return {r[0] for r in con.execute("SELECT metric_date FROM day_quality").fetchall()}


def days_pending_prune(con: duckdb.DuckDBPyConnection, cutoff: date, tz: str) -> list[date]:
    """Local observation days of the raw events about to be pruned (bucket_date < cutoff) that have
    no aggregates yet. Bounded: only the events before the cutoff are read."""
    rows = run(con, "prune_pending_days", cutoff=cutoff).fetchall()
    return [r[0] for r in rows]


def prune_raw(con: duckdb.DuckDBPyConnection, cutoff: date) -> int:
    """Delete raw availability_events with bucket_date < cutoff whose observation day is aggregated.

    Events of a day without aggregates stay (the caller aggregates first; see run_nightly)."""
    return int(run(con, "prune_raw", cutoff=cutoff).fetchone()[0])  # type: ignore[index]


def data_days(con: duckdb.DuckDBPyConnection, tz: str) -> tuple[date, date] | None:
    """First and last local day with any poll (what recompute rebuilds)."""
    row = run(con, "data_days", tz=tz).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def _spans(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """first..last (inclusive) cut into consecutive spans of at most ``days`` days."""
    out: list[tuple[date, date]] = []
    while first <= last:
        out.append((first, min(last, first + timedelta(days=max(days, 1) - 1))))
        first = out[-1][1] + timedelta(days=1)
    return out


def recompute(con: duckdb.DuckDBPyConnection, *, tz: str, min_sample: int, today: date,
              prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS, max_gap_s: float = DEFAULT_MAX_GAP_S,
              progress: Progress | None = None, chunk_days: int = 2, rolling_chunk_days: int = 2,
              guard_minutes: int = DEFAULT_GUARD_MINUTES) -> dict[str, Any]:
    """Rebuild every metric table from slot_intervals + poll_ledger (kept forever).

    The same files as the nightly job, over the days from the first poll to yesterday (``today`` -
    1): the per-day tables in chunks of ``chunk_days`` days, then the rolling tables one as_of at a
    time (each reads its day and the 13 before; ``rolling_chunk_days`` only sets how often progress
    is reported). A step's memory is that of a few days however long the history. Rows outside that span are deleted, so the result
    equals running the nightly job for each day in turn.
    """
    run_script(con, "metric_tables_clear")
    out: dict[str, Any] = {"days": 0, "rows": 0}
    span = data_days(con, tz)
    if span is None:
        return out
    first, last = span[0], min(span[1], today - timedelta(days=1))
    if last < first:
        return out
    chunks = _spans(first, last, chunk_days)
    rolling_chunks = _spans(first, last, rolling_chunk_days)
    steps = len(chunks) + len(rolling_chunks)
    for i, (d, e) in enumerate(chunks, 1):
        r = aggregate_range(con, d, e, tz=tz, min_sample=min_sample, prime_slots=prime_slots,
                            max_gap_s=max_gap_s, guard_minutes=guard_minutes)
        out["rows"] += sum(r[t] for t in DAILY_TABLES)
        if progress:
            progress(i, steps, f"daily {d}..{e}")
    for j, (a, b) in enumerate(rolling_chunks, len(chunks) + 1):
        out["rows"] += sum(refresh_rolling(con, a, min_sample=min_sample, until=b).values())
        if progress:
            progress(j, steps, f"rolling {a}..{b}")
    out.update(days=(last - first).days + 1, first=first, last=last)
    return out
