"""`tablepulse up` end to end: history, every service healthy, Ctrl-C stops everything cleanly.

Runs the real launcher (`python -m collector up`) with a small market and one day of history on
free loopback ports, then checks what a new user would: the URLs answer, the history is in the
database, SIGINT stops every process it started, and the file is consistent afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np

from collector.buckets import BucketSpec
from collector.launcher import FAR_EVERY, FINE_DAYS, FINE_ROUNDS, build_history, far_phase, history_plan
from simulator.model import Market
from simulator.server import start_server
from tablepulse_settings import Settings
from tests.pipeline import true_drops_by_hour

ROOT = Path(__file__).resolve().parents[1]


def _children_of(marker: str) -> set[int]:
    """PIDs whose environment carries our unique database path (the launcher's children)."""
    pids = set()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if marker.encode() in (p / "environ").read_bytes():
                pids.add(int(p.name))
        except OSError:
            continue
    return pids


def test_up_runs_everything_and_stops_cleanly_on_ctrl_c(tmp_path):
    db = tmp_path / "tp.duckdb"
    env = dict(os.environ, TABLEPULSE_DB_PATH=str(db), TABLEPULSE_SNAPSHOT_PATH=str(tmp_path / "snap.duckdb"),
               TABLEPULSE_SIM_VENUES="20", TABLEPULSE_SIM_PORT="0", TABLEPULSE_TRACKING_PORT="0",
               TABLEPULSE_DASHBOARD_PORT="0", TABLEPULSE_HISTORY_POLL_INTERVAL_S="3600", TABLEPULSE_WINDOW_DAYS="3")
    proc = subprocess.Popen([sys.executable, "-m", "collector", "up", "--history-days", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    urls: dict[str, str] = {}
    lines = []
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith(("http://", "/")):
            urls[parts[0]] = parts[1]
        if "Ctrl-C stops everything" in line:
            break
    assert {"dashboard", "collector", "tracking", "market"} <= set(urls), "".join(lines)[-3000:]
    try:
        assert httpx.get(urls["dashboard"] + "/_stcore/health", timeout=10).status_code == 200
        assert httpx.get(urls["dashboard"], timeout=10).status_code == 200
        health = httpx.get(urls["collector"], timeout=10)
        assert health.status_code == 200 and health.json()["ok"] is True
        assert httpx.get(urls["market"], timeout=10).json()["ok"] is True
        assert httpx.get(urls["tracking"], timeout=10).status_code == 200
        children = _children_of(str(db))
        assert len(children) >= 4, f"expected market, collector, alerts and dashboard, got {children}"
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, rest[-3000:]
    time.sleep(0.5)
    assert _children_of(str(db)) == set(), "a child process outlived Ctrl-C"

    con = duckdb.connect(str(db), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        polls, trusted, first, last = q("SELECT count(*), count(*) FILTER (trusted), min(started_at), "
                                        "max(started_at) FROM poll_ledger")[0]
        assert trusted > 0 and (last - first).total_seconds() >= 20 * 3600, "history does not span the day"
        assert q("SELECT count(*) FROM nightly_runs")[0][0] >= 1
        assert q("SELECT count(*) FROM venue_daily")[0][0] > 0
        assert q("SELECT count(*) - count(DISTINCT event_id) FROM availability_events")[0][0] == 0
        assert q("""SELECT count(*) FROM availability_events e WHERE e.event_type IN ('NEW_DROP', 'BASELINE_AVAILABLE')
                    AND e.interval_id NOT IN (SELECT interval_id FROM slot_intervals)
                    AND e.interval_id NOT IN (SELECT interval_id FROM open_slots)""")[0][0] == 0
    finally:
        con.close()


HIST_START = datetime(2026, 11, 23, 5, 0)   # midnight in New York


def test_history_plan_is_hourly_with_live_cadence_bursts_over_the_last_day() -> None:
    s = Settings().replace(history_poll_interval_s=3600, bucket_cooldown_s=30)
    end = HIST_START + timedelta(days=3, minutes=20)
    plan = history_plan(s, HIST_START, end)
    at = [r.at for r in plan]
    assert at == sorted(set(at)) and at[0] == HIST_START and at[-1] == end
    fine_from = end - timedelta(days=FINE_DAYS)
    coarse = [t for t in at if t < fine_from]
    assert all(b - a == timedelta(hours=1) for a, b in zip(coarse, coarse[1:], strict=False))
    phases = [r.far_phase for r in plan if r.far_phase is not None]
    assert phases == [i % FAR_EVERY for i in range(len(phases))] and len(phases) == 73, "one phase per hourly round"
    hours = [t for t in at if t >= fine_from and (t - HIST_START) % timedelta(hours=1) == timedelta(0)]
    assert len(hours) == 24
    for h in hours[:-1]:  # every hour of the last day: a burst of FINE_ROUNDS rounds 30 s apart, then nothing
        burst = [t for t in at if h <= t < h + timedelta(hours=1)]
        assert burst == [h + timedelta(seconds=30 * k) for k in range(FINE_ROUNDS)]
    assert all(r.far_phase is None for r in plan if (r.at - HIST_START) % timedelta(hours=1))
    # later-date buckets spread over the phases, so every hour of the day polls some of them
    specs = [BucketSpec(f"{d}_{t}", p, d, t, "") for d in (date(2026, 11, 25) + timedelta(days=i) for i in range(12))
             for t in ("15:00", "19:00") for p in (2, 4)]
    counts = np.bincount([far_phase(b) for b in specs], minlength=FAR_EVERY)
    assert counts.min() >= 1 and counts.max() <= 3 * counts.mean(), counts


def test_history_resolves_fast_tables_and_keeps_the_market_shape_by_hour(tmp_path: Path) -> None:
    """History built exactly as `make run` builds it (build_history over HTTP; 60 venues, 2 days), held
    against the simulator's truth."""
    s = Settings().replace(db_path=str(tmp_path / "h.duckdb"), snapshot_path=str(tmp_path / "s.duckdb"),
                           sim_venues=60)
    end = HIST_START + timedelta(days=2)
    market = Market(s.sim_seed, s.sim_venues, start=HIST_START)
    with start_server(market, api_key=s.api_key) as srv:
        stats = build_history(s, srv.url, HIST_START, end)
    assert stats["polls"] > 0 and stats["trusted"] >= 0.99 * stats["polls"], stats
    tier = {v.venue_id: v.tier for v in market.venues}
    truth = market.truth_intervals(HIST_START - timedelta(days=40), end)
    con = duckdb.connect(s.db_path, read_only=True)
    try:
        closes = con.execute("""
            SELECT venue_id, slot_date, slot_time, party_size, table_type, opened_lo, opened_hi, closed_lo, closed_hi
            FROM slot_intervals WHERE end_reason = 'closed' AND opened_lo IS NOT NULL""").fetchall()
        near_by_hour = dict(con.execute("""
            SELECT hour(opened_local), count(*) FROM slot_intervals WHERE source = 'drop'
            AND slot_date <= CAST(opened_local AS DATE) + 1 GROUP BY 1""").fetchall())
    finally:
        con.close()
    # fast tables are timed to the live cadence, and the true instants lie inside the bounds
    true_at = {(r["venue_id"], r["slot_date"], r["slot_time"], r["table_type"], r["opened_at"]): r["closed_at"]
               for r in truth}
    by_key: dict[tuple[Any, ...], list[tuple[datetime, datetime | None]]] = {}
    for (v, d, t, tt, o), c in true_at.items():
        by_key.setdefault((v, d, t, tt), []).append((o, c))
    resolved = {"impossible": 0, "hard": 0}
    for v, d, t, _p, tt, o_lo, o_hi, c_lo, c_hi in closes:
        if tier[v] not in resolved or c_hi - o_lo > timedelta(minutes=5):
            continue
        match = [(o, c) for o, c in by_key.get((v, d.isoformat(), t.isoformat(), tt), []) if o_lo < o <= o_hi]
        assert len(match) == 1 and match[0][1] is not None and c_lo < match[0][1] <= c_hi, (v, d, t, tt, o_lo, o_hi)
        resolved[tier[v]] += 1
    assert min(resolved.values()) > 0 and sum(resolved.values()) >= 30, resolved
    # drops by local hour of day follow the truth's for the buckets polled at the hourly-and-burst cadence
    # (today's and tomorrow's; later dates are polled every 12 h and still calibrate in a 2-day history)
    truth_near = true_drops_by_hour(truth, HIST_START, end)
    seen = np.array([near_by_hour.get(h, 0) for h in range(24)], dtype=float)
    assert seen.sum() > 2000
    assert np.corrcoef(seen, truth_near)[0, 1] >= 0.9, (seen, truth_near)
