"""The nightly sliding-window job and the `aggregate` / `recompute` commands (through the one writer).

Order (each step one transaction through ``store.write``; every step idempotent):
1. aggregate: the day just completed, plus every earlier day whose raw events are about to be
   pruned and that has no aggregates yet (bounded to events with bucket_date < cutoff, in SQL);
2. prune raw availability_events with bucket_date < cutoff (= today - raw_retention_days), only
   for days already aggregated (analytics.nightly.prune_raw checks day_quality);
3. prune old buckets: open slots of buckets dated before today become slot_intervals with
   end_reason 'expired' (closed_lo = the bucket's last trusted poll, closed_hi NULL, ended_at = now),
   then those open_slots and bucket rows are deleted;
4. roll the window forward: missing bucket rows for today..today+window_days-1 (calibration
   pending); the poller then baselines them through its calibration polls.
Metrics are keyed on the observation day (see analytics/nightly.py for why).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from analytics import nightly as an
from collector.buckets import ensure_buckets, local_today
from collector.store.writer import Store
from tablepulse_settings import Settings

Progress = Callable[[int, int, str], None]
Date = date  # alias: cli_aggregate has a parameter named `date` (the CLI flag)


def _prime(settings: Settings) -> list[str]:
    return list(settings.prime_time_slots)


def metric_params(settings: Settings) -> dict[str, Any]:
    """The settings every metric computation takes (one place: a new knob is added once)."""
    return {"tz": settings.timezone, "min_sample": settings.min_sample, "prime_slots": _prime(settings),
            "guard_minutes": settings.expiry_guard_minutes, "max_gap_s": settings.max_gap_s}


def _rows_written(result: dict[str, Any]) -> int:
    """Rows an aggregate_day call wrote (its per-table counts; 'replaced' counts what it deleted)."""
    return sum(v for k, v in result.items() if isinstance(v, int) and k != "replaced")


def mark_nightly(store: Store, day: date) -> None:
    """Record that the nightly job ran for `day` (the service's trigger then skips it)."""
    from collector.clock import utcnow

    store.write(lambda c: c.execute("INSERT OR REPLACE INTO service_state VALUES ('nightly_last_day', $d, $t)",
                                    {"d": day.isoformat(), "t": utcnow()}))


def _log_run(con: duckdb.DuckDBPyConnection, kind: str, day: date | None, now: datetime, out: dict[str, Any],
             t0: float, status: str = "ok", detail: str | None = None) -> None:
    con.execute(
        "INSERT OR REPLACE INTO nightly_runs (run_id, kind, day, ran_at, rows_written, events_pruned, buckets_pruned, "
        "slots_expired, buckets_added, partial, duration_s, status, detail) VALUES ($id, $k, $d, $t, $rows, $ep, $bp, "
        "$se, $ba, $p, $dur, $st, $det)",
        {"id": f"{kind}|{day}|{now.isoformat()}", "k": kind, "d": day, "t": now, "rows": int(out.get("rows", 0)),
         "ep": int(out.get("events_pruned", 0)), "bp": int(out.get("buckets_pruned", 0)),
         "se": int(out.get("slots_expired", 0)), "ba": int(out.get("buckets_added", 0)),
         "p": bool(out.get("partial", False)), "dur": time.perf_counter() - t0, "st": status, "det": detail})


def prune_buckets(con: duckdb.DuckDBPyConnection, today: date, tz: str, now: datetime | None = None) -> dict[str, int]:
    """Close out buckets dated before today: their open slots become 'expired' intervals, recorded
    (ended_at) at ``now`` (UTC; default: the start of ``today``, local), so the expiry belongs to
    today's metrics, never to a day whose nightly run has already been written."""
    if now is not None and now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    n_slots = con.execute("SELECT count(*) FROM open_slots WHERE CAST(left(bucket_id, 10) AS DATE) < $t",
                          {"t": today}).fetchone()[0]  # type: ignore[index]
    con.execute(
        "INSERT INTO slot_intervals "
        "SELECT o.interval_id, o.provider, o.venue_id, o.slot_date, o.slot_time, o.party_size, o.table_type, o.bucket_id, "
        "coalesce(k.time_bucket, 'off_peak'), o.source, o.is_release, o.opened_lo, o.opened_hi, coalesce(k.last_trusted_at, o.opened_hi), NULL, "
        "'expired', NULL, timezone(coalesce(v.tz, $tz), timezone('UTC', o.opened_hi)), "
        "coalesce(CAST($now AS TIMESTAMP), timezone('UTC', timezone($tz, CAST($t AS TIMESTAMP)))) "
        "FROM open_slots o LEFT JOIN buckets k ON k.bucket_id = o.bucket_id AND k.party_size = o.party_size "
        "LEFT JOIN venues v ON v.provider = o.provider AND v.venue_id = o.venue_id "
        "WHERE CAST(left(o.bucket_id, 10) AS DATE) < $t "
        "AND o.interval_id NOT IN (SELECT interval_id FROM slot_intervals)", {"t": today, "tz": tz, "now": now})
    con.execute("DELETE FROM open_slots WHERE CAST(left(bucket_id, 10) AS DATE) < $t", {"t": today})
    n_b = con.execute("DELETE FROM buckets WHERE bucket_date < $t", {"t": today}).fetchone()[0]  # type: ignore[index]
    return {"slots_expired": int(n_slots), "buckets_pruned": int(n_b)}


def run_nightly(store: Store, day: date, settings: Settings, now: datetime,
                progress: Progress | None = None) -> dict[str, Any]:
    """The nightly job for the completed local ``day`` (normally yesterday), run at ``now`` (UTC)."""
    t0 = time.perf_counter()
    tz, params = settings.timezone, metric_params(settings)
    today = local_today(now, tz)
    cutoff = today - timedelta(days=settings.raw_retention_days)
    out: dict[str, Any] = {"day": day, "today": today, "cutoff": cutoff, "rows": 0}
    steps = 4

    # 1. aggregate: days about to lose raw events (bounded query) + the day itself
    def agg(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        pending = [d for d in an.days_pending_prune(con, cutoff, tz) if d < today and d != day]
        res: dict[str, Any] = {"rows": 0, "extra_days": pending}
        for d in pending:
            r = an.aggregate_day(con, d, today=today, **params)
            res["rows"] += _rows_written(r)
        r = an.aggregate_day(con, day, today=today, **params)
        res["rows"] += _rows_written(r)
        res["partial"] = r["partial"]
        return res
    a = store.write(agg, timeout=None)
    out.update(rows=a["rows"], partial=a["partial"], extra_days=a["extra_days"])
    if progress:
        progress(1, steps, "aggregated")
    # 2. prune raw events of aggregated days
    out["events_pruned"] = store.write(lambda con: an.prune_raw(con, cutoff), timeout=None)
    if progress:
        progress(2, steps, "pruned raw events")
    # 3. prune old buckets
    out.update(store.write(lambda con: prune_buckets(con, today, tz, now), timeout=None))
    if progress:
        progress(3, steps, "pruned old buckets")
    # 4. roll the window forward (calibration pending; the poller baselines them)
    out["buckets_added"] = store.write(lambda con: ensure_buckets(con, today, now, settings), timeout=None)
    if progress:
        progress(4, steps, "rolled bucket window")
    store.write(lambda con: _log_run(con, "nightly", day, now, out, t0), timeout=None)
    mark_nightly(store, day)
    out["duration_s"] = time.perf_counter() - t0
    return out


# -- commands -------------------------------------------------------------------------------------

class TextProgress:
    """A tiny progress bar on stderr: [#####-----] 3/6 label."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width

    def __call__(self, i: int, n: int, label: str) -> None:
        n = max(n, 1)
        fill = int(self.width * min(i, n) / n)
        self.stream.write(f"\r[{'#' * fill}{'-' * (self.width - fill)}] {i}/{n} {label[:50]:<50}")
        if i >= n:
            self.stream.write("\n")
        self.stream.flush()


def _open_store(settings: Settings) -> Store | None:
    try:
        return Store(settings.db_path)
    except duckdb.Error as e:
        msg = str(e).lower()
        if "lock" in msg or "conflicting" in msg:
            print(f"error: {settings.db_path} is locked by a running collector service; stop it first "
                  f"(the service runs the nightly job itself at {settings.nightly_at}).", file=sys.stderr)
            return None
        raise


def cli_aggregate(settings: Settings, date: date | None = None, date_from: date | None = None,
                  date_to: date | None = None, now: datetime | None = None) -> int:
    """`tablepulse aggregate [--date D | --from D1 --to D2]`: (re)aggregate days, then their rolling
    tables. Default: yesterday (market-local). Returns the exit code."""
    from collector.clock import utcnow
    now = now or utcnow()
    today = local_today(now, settings.timezone)
    if date is not None:
        d0 = d1 = date
    elif date_from is not None or date_to is not None:
        d0 = date_from or date_to  # type: ignore[assignment]
        d1 = date_to or date_from  # type: ignore[assignment]
    else:
        d0 = d1 = today - timedelta(days=1)
    assert d0 is not None and d1 is not None
    if d1 < d0:
        print("error: --from is after --to", file=sys.stderr)
        return 2
    store = _open_store(settings)
    if store is None:
        return 1
    bar = TextProgress()
    t0 = time.perf_counter()
    try:
        n = (d1 - d0).days + 1
        rows = 0
        for i in range(n):
            d = d0 + timedelta(days=i)

            def job(con: duckdb.DuckDBPyConnection, d: Date = d) -> int:
                r = an.aggregate_day(con, d, today=today, **metric_params(settings))
                return _rows_written(r)
            rows += store.write(job, timeout=None)
            bar(i + 1, n, f"aggregated {d}")
        store.write(lambda con: _log_run(con, "aggregate", d1, now, {"rows": rows}, t0), timeout=None)
        print(f"aggregated {n} day(s) {d0}..{d1}: {rows} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return 0
    finally:
        store.close()


def cli_recompute(settings: Settings, now: datetime | None = None) -> int:
    """`tablepulse recompute`: rebuild every metric table from slot_intervals + poll_ledger."""
    from collector.clock import utcnow
    now = now or utcnow()
    today = local_today(now, settings.timezone)
    store = _open_store(settings)
    if store is None:
        return 1
    bar = TextProgress()
    t0 = time.perf_counter()
    try:
        out = store.write(lambda con: an.recompute(con, today=today, progress=bar, **metric_params(settings)),
                          timeout=None)
        store.write(lambda con: _log_run(con, "recompute", out.get("last"), now, out, t0), timeout=None)
        print(f"recomputed {out.get('days', 0)} day(s): {out.get('rows', 0)} rows in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return 0
    finally:
        store.close()
