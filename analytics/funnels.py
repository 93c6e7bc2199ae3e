"""Alert conversion funnels: the unit is one alert; ordered steps within conversion windows.

Called by the dashboard and the digest with a DuckDB connection (read-only snapshot is fine).
``alert_journeys`` runs analytics/sql/funnel_alerts.sql (one row per alert); every other function
registers those rows as ``funnel_alert_rows`` on a private cursor and runs one funnel_*.sql over
them, so the per-alert definition lives in one place. Every result carries its sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import duckdb
import pandas as pd

from analytics.sql_loader import run

STEPS = ("alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed")
DIMENSIONS = ("venue", "neighborhood", "time_bucket", "party_size", "scarcity_decile")
DEFAULT_TAP_WINDOW_S = 1800
DEFAULT_BOOK_WINDOW_S = 86400


@dataclass(frozen=True)
class FunnelFilter:
    """Alerts whose first alert_sent (corrected time) lies in [start, end), optionally narrowed."""

    start: datetime
    end: datetime
    tap_window_s: int = DEFAULT_TAP_WINDOW_S
    book_window_s: int = DEFAULT_BOOK_WINDOW_S
    venue_id: int | None = None
    neighborhood: str | None = None
    time_bucket: str | None = None
    party_size: int | None = None


def _ts(v: date | datetime) -> datetime:
    return v if isinstance(v, datetime) else datetime.combine(v, time())


def make_filter(start: date | datetime, end: date | datetime, **kw: Any) -> FunnelFilter:
    """Dates mean midnight UTC; ``end`` is exclusive (pass the day after the last day)."""
    return FunnelFilter(_ts(start), _ts(end), **kw)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = run(con, "funnel_has_table", table_name=name).fetchone()
    return bool(row and row[0])


def alert_journeys(con: duckdb.DuckDBPyConnection, f: FunnelFilter) -> pd.DataFrame:
    """One row per alert: sent/opened/tapped/booked times, drop and slot attributes, and the
    venue's scarcity_score / scarcity_decile when venue_rolling exists (else NULL)."""
    df = run(con, "funnel_alerts", start=f.start, end=f.end, tap_window_s=f.tap_window_s,
             book_window_s=f.book_window_s, venue_id=f.venue_id, neighborhood=f.neighborhood,
             time_bucket=f.time_bucket, party_size=f.party_size).df()
    df["scarcity_score"] = pd.Series([None] * len(df), dtype="Float64")
    df["scarcity_decile"] = pd.Series([None] * len(df), dtype="Int64")
    if len(df) and has_table(con, "venue_rolling"):
        sc = _over(con, df, "funnel_scarcity")
        df = df.drop(columns=["scarcity_score", "scarcity_decile"]).merge(sc, on="alert_id", how="left")
        df["scarcity_decile"] = df["scarcity_decile"].astype("Int64")
    return df


def _over(con: duckdb.DuckDBPyConnection, journeys: pd.DataFrame, name: str,
          relation: str = "funnel_alert_rows", **params: Any) -> pd.DataFrame:
    """Run analytics/sql/NAME.sql over the journeys registered as RELATION on a private cursor."""
    cur = con.cursor()
    try:
        cur.register(relation, journeys)
        return run(cur, name, **params).df()
    finally:
        cur.close()


def _journeys(con: duckdb.DuckDBPyConnection, f: FunnelFilter, journeys: pd.DataFrame | None) -> pd.DataFrame:
    return alert_journeys(con, f) if journeys is None else journeys


def funnel_steps(con: duckdb.DuckDBPyConnection, f: FunnelFilter,
                 journeys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Columns: step_index, step, n, n_prev, conversion_from_prev, conversion_from_sent, drop_off,
    drop_off_share (one row per step, in order)."""
    return _over(con, _journeys(con, f, journeys), "funnel_steps")


def time_to_convert(con: duckdb.DuckDBPyConnection, f: FunnelFilter,
                    journeys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Columns: span_index, span (sent_to_open | sent_to_tap | sent_to_book), n, median_s, p90_s, mean_s."""
    return _over(con, _journeys(con, f, journeys), "funnel_times")


def breakdown(con: duckdb.DuckDBPyConnection, f: FunnelFilter, dimension: str, min_sample: int = 10,
              journeys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per value of DIMENSION (one of DIMENSIONS): n_sent, n_opened, n_tapped, n_booked, rates,
    median_sent_to_book_s, scarcity_score, n, thin. The scarcity decile breakdown is empty when no
    venue_rolling table (or no score) is available."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")
    j = _journeys(con, f, journeys)
    if dimension == "scarcity_decile" and not j["scarcity_decile"].notna().any():
        j = j.iloc[0:0]
    return _over(con, j, "funnel_breakdown", dimension=dimension, min_sample=min_sample)


def too_late(con: duckdb.DuckDBPyConnection, f: FunnelFilter,
             journeys: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row: alerts acted on after their slot had closed (see funnel_too_late.sql for the exact
    'too late' / 'possibly late' definitions) with counts and shares per step."""
    return _over(con, _journeys(con, f, journeys), "funnel_too_late")


def conversion_vs_scarcity(con: duckdb.DuckDBPyConnection, f: FunnelFilter, min_sample: int = 10,
                           journeys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Conversion by scarcity decile (1 = easiest .. 10 = scarcest), thin deciles flagged; empty
    when no scarcity scores are available."""
    out = breakdown(con, f, "scarcity_decile", min_sample, journeys)
    out = out[out["value"] != "(unknown)"].copy()
    out["scarcity_decile"] = out["value"].astype(int)
    return out.sort_values("scarcity_decile").reset_index(drop=True)


def funnel_report(con: duckdb.DuckDBPyConnection, f: FunnelFilter, min_sample: int = 10) -> dict[str, pd.DataFrame]:
    """Everything at once from one journeys query: steps, times, too_late, by_<dimension>, vs_scarcity."""
    j = alert_journeys(con, f)
    out = {"journeys": j, "steps": funnel_steps(con, f, j), "times": time_to_convert(con, f, j),
           "too_late": too_late(con, f, j), "vs_scarcity": conversion_vs_scarcity(con, f, min_sample, j)}
    for d in DIMENSIONS:
        out[f"by_{d}"] = breakdown(con, f, d, min_sample, j)
    return out
