"""The nightly aggregation: per-day and rolling venue/market metrics, raw-event pruning, recompute.

Owns the metric tables of migration 0002; called by collector/nightly.py (the service's nightly
job and the `tablepulse aggregate` / `recompute` commands), benchmarks and tests. Takes a DuckDB
connection and never opens files itself; callers own the transaction (the writer's job runs in one).

Keying: per-day metrics key on the market-local day on which a transition was OBSERVED (a drop on
the day of its first trusted poll, a close on the day of the first poll without it, a censored end
on the day it was last seen). A day is complete once it is over, so the run for day D is final and
re-running it is a no-op. Keying on the bucket date instead would leave every day open for two
weeks (its buckets are polled 14 days ahead) and make "yesterday" a moving number.

Every metric is computed from slot_intervals + open_slots + poll_ledger, which are kept forever;
availability_events (raw) are not read, so `recompute` can rebuild everything after a definition
changes. The prune step still deletes raw events only for days already aggregated
(day_quality has the day), so no raw event ever leaves before its day's metrics exist.
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
WINDOWS = (7, 14)
DAILY_TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "supply_daily")
ROLLING_TABLES = ("venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")


def _one(con: duckdb.DuckDBPyConnection, q: str, params: dict[str, Any] | None = None) -> Any:
    row = con.execute(q, params or {}).fetchone()
    return None if row is None else row[0]


def aggregate_range(con: duckdb.DuckDBPyConnection, start: date, end: date, *, tz: str, min_sample: int,
                    today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                    max_gap_s: float = DEFAULT_MAX_GAP_S) -> dict[str, Any]:
    """(Re)write the per-day tables for the local days start..end inclusive, in SQL, in one pass.

    ``today`` is the local date of the run: open slots of buckets dated before it count as expired
    (the bucket prune is about to close them exactly so). Default: end + 1. Rolling tables are not
    touched (see refresh_rolling). Returns rows written per table.
    """
    if end < start:
        return {t: 0 for t in DAILY_TABLES}
    params = {"d0": start, "d1": end + timedelta(days=1), "tz": tz, "max_gap_s": float(max_gap_s),
              "prime_slots": list(prime_slots), "today": today or end + timedelta(days=1)}
    run_script(con, "nightly_prepare", **params)
    before = {t: _count_range(con, t, start, end) for t in DAILY_TABLES}
    run_script(con, "nightly_daily", **{k: v for k, v in params.items() if k in ("d0", "d1", "prime_slots")},
               min_sample=int(min_sample))
    out = {t: _count_range(con, t, start, end) for t in DAILY_TABLES}
    out["replaced"] = sum(before.values())
    for t in ("nd_days", "nd_gaps", "nd_iv", "nd_pieces", "nd_open", "nd_facts"):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")  # fixed names
    return out


def aggregate_day(con: duckdb.DuckDBPyConnection, day: date, *, tz: str, min_sample: int,
                  today: date | None = None, prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS,
                  max_gap_s: float = DEFAULT_MAX_GAP_S) -> dict[str, Any]:
    """(Re)write one local day of the per-day tables, then the rolling tables as of that day."""
    out = aggregate_range(con, day, day, tz=tz, min_sample=min_sample, today=today,
                          prime_slots=prime_slots, max_gap_s=max_gap_s)
    out.update(refresh_rolling(con, day, min_sample=min_sample))
    out["partial"] = bool(_one(con, "SELECT partial FROM day_quality WHERE metric_date = $d", {"d": day}))
    return out


def _count_range(con: duckdb.DuckDBPyConnection, table: str, start: date, end: date) -> int:
    assert table in DAILY_TABLES
    return int(_one(con, f"SELECT count(*) FROM {table} WHERE metric_date BETWEEN $a AND $b",  # noqa: S608
                    {"a": start, "b": end}))


def refresh_rolling(con: duckdb.DuckDBPyConnection, as_of: date, *, min_sample: int,
                    until: date | None = None) -> dict[str, int]:
    """(Re)write the rolling 7/14-day tables for as_of (..until, inclusive) from the per-day tables."""
    until = until or as_of
    run_script(con, "rolling", a0=as_of, a1=until + timedelta(days=1), min_sample=int(min_sample))
    return {t: int(_one(con, f"SELECT count(*) FROM {t} WHERE as_of BETWEEN $a AND $b",  # noqa: S608
                        {"a": as_of, "b": until})) for t in ROLLING_TABLES}


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


def recompute(con: duckdb.DuckDBPyConnection, *, tz: str, min_sample: int, today: date,
              prime_slots: Sequence[str] = DEFAULT_PRIME_SLOTS, max_gap_s: float = DEFAULT_MAX_GAP_S,
              progress: Progress | None = None, chunk_days: int = 31) -> dict[str, Any]:
    """Rebuild every metric table from slot_intervals + poll_ledger (kept forever).

    Days from the first poll to yesterday (``today`` - 1) are rebuilt in chunks of ``chunk_days``
    (one SQL pass each), then the rolling tables for every day. Rows for days outside that span are
    deleted, so the result equals running the nightly job for each day in turn.
    """
    span = data_days(con, tz)
    for t in DAILY_TABLES:
        con.execute(f"DELETE FROM {t}")  # fixed names  # noqa: S608
    for t in ROLLING_TABLES:
        con.execute(f"DELETE FROM {t}")  # noqa: S608
    out: dict[str, Any] = {"days": 0, "rows": 0}
    if span is None:
        return out
    first, last = span[0], min(span[1], today - timedelta(days=1))
    if last < first:
        return out
    total = (last - first).days + 1
    steps = -(-total // chunk_days) + 1
    d, i = first, 0
    while d <= last:
        e = min(last, d + timedelta(days=chunk_days - 1))
        r = aggregate_range(con, d, e, tz=tz, min_sample=min_sample, today=today,
                            prime_slots=prime_slots, max_gap_s=max_gap_s)
        out["rows"] += sum(v for k, v in r.items() if k in DAILY_TABLES)
        i += 1
        if progress:
            progress(i, steps, f"daily {d}..{e}")
        d = e + timedelta(days=1)
    r2 = refresh_rolling(con, first, min_sample=min_sample, until=last)
    out["rows"] += sum(r2.values())
    if progress:
        progress(steps, steps, f"rolling {first}..{last}")
    out.update(days=total, first=first, last=last)
    return out
