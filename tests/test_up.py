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
from pathlib import Path

import duckdb
import httpx

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
