"""Writes polls: ledger rows, bucket state, transitions, intervals, open slots, baseline, first
sightings and venues, from the plain rows the poller hands over (one PollWrite per poll).

Runs inside the single writer's transaction (collector/store/writer.py). The SQL is in
collector/store/sql/, one file per statement, each idempotent on its own: the ledger row goes first
and returns the polls new to the file; only their rows are written. Keyed tables take MERGE ... WHEN
NOT MATCHED THEN INSERT, an anti-join on the key: DuckDB runs INSERT ... ON CONFLICT DO NOTHING as
that same join plus a pass that drops keys repeated in its input, so here the batch keeps one row per
key before the statement instead. A re-applied poll therefore writes nothing, in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

SQL_DIR = Path(__file__).with_name("sql")

_SLOT = [("provider", pa.string()), ("venue_id", pa.int64()), ("slot_date", pa.date32()),
         ("slot_time", pa.time64("us")), ("party_size", pa.int16()), ("table_type", pa.string())]
_TS = pa.timestamp("us")
SCHEMAS = {
    "new_ledger": pa.schema([
        ("poll_id", pa.string()), ("provider", pa.string()), ("bucket_id", pa.string()), ("party_size", pa.int16()),
        ("started_at", _TS), ("finished_at", _TS), ("phase", pa.string()), ("trusted", pa.bool_()),
        ("outcome", pa.string()), ("detail", pa.string()), ("http_status", pa.int32()), ("pages", pa.int32()),
        ("requests", pa.int32()), ("venues_seen", pa.int32()), ("slots_seen", pa.int32()),
        ("n_new_drop", pa.int32()), ("n_closed", pa.int32()), ("n_expired", pa.int32()), ("latency_ms", pa.float64())]),
    "new_buckets": pa.schema([
        ("bucket_id", pa.string()), ("party_size", pa.int16()), ("last_poll_at", _TS), ("last_trusted_at", _TS),
        ("calibration_done", pa.int32()), ("calibration_tries", pa.int32()), ("baseline_ready", pa.bool_()),
        ("baseline_slots", pa.int32()), ("collapse_since", _TS), ("collapse_answers", pa.int32()),
        ("closes_seen", pa.int64()), ("open_slot_s", pa.float64())]),
    "new_events": pa.schema([
        ("event_id", pa.string()), ("event_type", pa.string()), *_SLOT, ("bucket_id", pa.string()),
        ("bucket_date", pa.date32()), ("time_bucket", pa.string()), ("interval_id", pa.string()),
        ("observed_at", _TS), ("observed_local", _TS), ("prev_poll_at", _TS), ("duration_s", pa.float64()),
        ("is_release", pa.bool_()), ("poll_id", pa.string())]),
    "new_ended": pa.schema([
        ("interval_id", pa.string()), *_SLOT, ("bucket_id", pa.string()), ("time_bucket", pa.string()),
        ("source", pa.string()), ("is_release", pa.bool_()), ("opened_lo", _TS), ("opened_hi", _TS),
        ("closed_lo", _TS), ("closed_hi", _TS), ("end_reason", pa.string()), ("duration_s", pa.float64()),
        ("opened_local", _TS), ("ended_at", _TS)]),
    "new_opened": pa.schema([
        *_SLOT, ("bucket_id", pa.string()), ("interval_id", pa.string()), ("source", pa.string()),
        ("opened_lo", _TS), ("opened_hi", _TS), ("is_release", pa.bool_())]),
    "new_baseline": pa.schema([
        ("bucket_id", pa.string()), ("party_size", pa.int16()), ("provider", pa.string()), ("venue_id", pa.int64()),
        ("slot_date", pa.date32()), ("slot_time", pa.time64("us")), ("table_type", pa.string())]),
    "new_venue_dates": pa.schema([
        ("provider", pa.string()), ("venue_id", pa.int64()), ("slot_date", pa.date32()), ("first_seen_at", _TS),
        ("first_slots", pa.int32())]),
    "new_venues": pa.schema([
        ("provider", pa.string()), ("venue_id", pa.int64()), ("name", pa.string()), ("neighborhood", pa.string()),
        ("price_range", pa.int16()), ("cuisine", pa.string()), ("tz", pa.string()), ("lat", pa.float64()),
        ("lon", pa.float64()), ("seen_at", _TS)]),
}


# The table each relation is inserted into, column by column in this order (tests/collector/test_store_polls.py)
TARGETS = {"new_ledger": "poll_ledger", "new_events": "availability_events", "new_ended": "slot_intervals",
           "new_opened": "open_slots", "new_baseline": "baseline_slots", "new_venue_dates": "venue_dates_seen"}
# The key of each keyed relation: its table's primary key, matched on by its MERGE (the same test holds them)
KEYS = {"new_ledger": ("poll_id",), "new_ended": ("interval_id",), "new_opened": tuple(name for name, _ in _SLOT),
        "new_baseline": ("bucket_id", "party_size", "provider", "venue_id", "slot_time", "table_type"),
        "new_venue_dates": ("provider", "venue_id", "slot_date"), "new_venues": ("provider", "venue_id")}


@dataclass
class PollWrite:
    """Everything one poll writes, as plain rows (dicts keyed by SCHEMAS' column names)."""

    poll_id: str
    ledger: dict[str, Any]
    bucket: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    ended: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    venue_dates: list[dict[str, Any]] = field(default_factory=list)
    venues: list[dict[str, Any]] = field(default_factory=list)


@cache
def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _run(cur: duckdb.DuckDBPyConnection, relation: str, rows: list[dict[str, Any]],
         *statements: tuple[str, dict[str, Any]]) -> list[Any]:
    """Register ROWS as the Arrow relation RELATION once, run each (statement, parameters) over it;
    returns the last statement's rows."""
    key = KEYS.get(relation)
    if key:   # a MERGE inserts every unmatched row: a key twice in one batch (two buckets whose windows
        # share a slot; a venue seen by several polls) would break the table's key. Its last row stands.
        rows = list({tuple(r[c] for c in key): r for r in rows}.values())
    cur.register(relation, pa.Table.from_pylist(rows, schema=SCHEMAS[relation]))
    try:
        out: list[Any] = []
        for statement, params in statements:
            out = cur.execute(sql(statement), params).fetchall() if params else cur.execute(sql(statement)).fetchall()
        return out
    finally:
        cur.unregister(relation)


# The writes after the ledger and bucket state, in order: (relation, PollWrite field, statement)
ROW_STEPS = (("new_events", "events", "events"), ("new_opened", "opened", "open_slots"),
             ("new_baseline", "baseline", "baseline"), ("new_venue_dates", "venue_dates", "venue_dates"),
             ("new_venues", "venues", "venues"))


def write_polls(cur: duckdb.DuckDBPyConnection, polls: list[PollWrite]) -> set[str]:
    """Write a batch of polls in the caller's transaction; returns the poll_ids already in the file
    (written before: nothing of them is written again)."""
    by_id = {p.poll_id: p for p in polls}   # a poll twice in one batch: once
    new = {r[0] for r in _run(cur, "new_ledger", [p.ledger for p in by_id.values()], ("poll_ledger", {}))}
    fresh = [p for p in by_id.values() if p.poll_id in new]
    if not fresh:
        return set(by_id) - new
    _run(cur, "new_buckets", [p.bucket for p in fresh], ("buckets_state", {}))
    ended = [r for p in fresh for r in p.ended]
    if ended:   # stored as intervals, and taken out of open_slots (their date range prunes row groups)
        days: list[date] = [r["slot_date"] for r in ended]
        _run(cur, "new_ended", ended, ("intervals", {}), ("open_slots_end", {"lo": min(days), "hi": max(days)}))
    for relation, attr, statement in ROW_STEPS:
        rows = [r for p in fresh for r in getattr(p, attr)]
        if rows:
            _run(cur, relation, rows, (statement, {}))
    return set(by_id) - new
