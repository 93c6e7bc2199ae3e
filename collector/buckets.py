"""Buckets: (date, time slot) x party size, the unit the collector polls, baselines and cools down.

`window_specs` lists what should be watched on a given local day; `ensure_buckets` inserts the
missing rows (calibration pending). Called by the scheduler at start and by the nightly roll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from tablepulse_settings import Settings


@dataclass(frozen=True, slots=True)
class BucketSpec:
    bucket_id: str        # 'YYYY-MM-DD_HH:MM'
    party_size: int
    bucket_date: date
    time_slot: str        # 'HH:MM'
    time_bucket: str      # 'prime' | 'off_peak'

    @property
    def slot_time(self) -> time:
        h, m = self.time_slot.split(":")
        return time(int(h), int(m))


def bucket_id(d: date, time_slot: str) -> str:
    return f"{d.isoformat()}_{time_slot}"


def local_today(now_utc: datetime, tz: str) -> date:
    return now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).date()


def to_local(ts_utc: datetime, tz: str) -> datetime:
    return ts_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def local_to_utc(ts_local: datetime, tz: str) -> datetime:
    return ts_local.replace(tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def window_specs(today: date, settings: Settings) -> list[BucketSpec]:
    specs = []
    for i in range(settings.window_days):
        d = today + timedelta(days=i)
        for ts in settings.time_slots:
            tb = "prime" if ts in settings.prime_time_slots else "off_peak"
            for p in settings.party_sizes:
                specs.append(BucketSpec(bucket_id(d, ts), p, d, ts, tb))
    return specs


def bucket_window_over(spec: BucketSpec, now_utc: datetime, tz: str, after_minutes: int = 60) -> bool:
    """True once every slot the bucket can hold (time_filter +-60 min) has started."""
    end_local = datetime.combine(spec.bucket_date, spec.slot_time) + timedelta(minutes=after_minutes)
    return local_to_utc(end_local, tz) <= now_utc


def ensure_buckets(con: duckdb.DuckDBPyConnection, today: date, now: datetime, settings: Settings) -> int:
    """Insert bucket rows for today..today+window_days-1 that do not exist yet; returns how many."""
    specs = window_specs(today, settings)
    tbl = pa.table({
        "bucket_id": [s.bucket_id for s in specs],
        "party_size": pa.array([s.party_size for s in specs], pa.int16()),
        "bucket_date": [s.bucket_date for s in specs],
        "time_slot": [s.time_slot for s in specs],
        "time_bucket": [s.time_bucket for s in specs],
    })
    con.register("new_buckets", tbl)
    try:
        before = con.execute("SELECT count(*) FROM buckets").fetchall()[0][0]
        con.execute(
            "INSERT OR IGNORE INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at) "
            "SELECT bucket_id, party_size, bucket_date, time_slot, time_bucket, $now FROM new_buckets",
            {"now": now})
        after = con.execute("SELECT count(*) FROM buckets").fetchall()[0][0]
    finally:
        con.unregister("new_buckets")
    return int(after - before)


def load_specs(con: duckdb.DuckDBPyConnection, since: date) -> list[BucketSpec]:
    rows = con.execute(
        "SELECT bucket_id, party_size, bucket_date, time_slot, time_bucket FROM buckets "
        "WHERE bucket_date >= $since ORDER BY bucket_date, time_slot, party_size", {"since": since}).fetchall()
    return [BucketSpec(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]
