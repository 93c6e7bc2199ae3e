"""Goal-based monitoring: how many drops matched users' goal windows, and how matched alerts converted.

Called by the dashboard and digest with a DuckDB connection. Drops come from slot_intervals and
open_slots (source 'drop'), goals from the goals table (POST /v1/goals), alerts from
analytics.funnels (same windows and ordering as the funnel).
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from analytics.funnels import FunnelFilter, _over, alert_journeys
from analytics.sql_loader import run


def goal_drops(con: duckdb.DuckDBPyConnection, f: FunnelFilter) -> pd.DataFrame:
    """One row per NEW_DROP first seen in [f.start, f.end): n_goals, n_users, matched, n_alerts,
    n_booked. Alerts are those sent from f.start until f.end + the booking window (an alert follows
    its drop), attributed to their drop."""
    alerts = alert_journeys(con, FunnelFilter(f.start, f.end + timedelta(seconds=f.book_window_s),
                                              f.tap_window_s, f.book_window_s))
    cur = con.cursor()
    try:
        cur.register("funnel_alert_rows", alerts)
        return run(cur, "goal_drops", start=f.start, end=f.end).df()
    finally:
        cur.close()


def goal_summary(con: duckdb.DuckDBPyConnection, f: FunnelFilter, min_sample: int = 10) -> pd.DataFrame:
    """One row: n_drops, n_matched, match_rate, n_matched_alerted, n_alerts_matched, n_booked_matched,
    conversion_matched, the same for unmatched drops' alerts, n, thin."""
    return _over(con, goal_drops(con, f), "goal_summary", relation="goal_drop_rows", min_sample=min_sample)
