"""The dashboard's read queries: plain arguments in, pandas DataFrames out.

Called by dashboard/data.py (cached there) and by bench/dashboard.py; each function takes an open
DuckDB connection and runs one analytics/sql/dash_*.sql file with named parameters. Knows nothing
of Streamlit. Filters travel as a frozen, hashable ``Filters`` so callers can cache on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics.sql_loader import run

TIME_BUCKETS = ("prime", "off_peak")
SPLITS = ("none", "time_bucket", "party_size", "neighborhood", "price_range")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Filters:
    """The shared filters. Empty tuples / None mean "all"; d0..d1 are venue-local days, inclusive."""

    d0: date
    d1: date
    hoods: tuple[str, ...] = ()
    prices: tuple[int, ...] = ()
    time_bucket: str | None = None
    parties: tuple[int, ...] = ()
    dows: tuple[int, ...] = ()      # ISO weekday of the observation day, 1=Mon..7=Sun
    venue_id: int | None = field(default=None)

    def __post_init__(self) -> None:
        if self.time_bucket is not None and self.time_bucket not in TIME_BUCKETS:
            raise ValueError(f"time_bucket must be one of {TIME_BUCKETS}, got {self.time_bucket!r}")
        if self.d1 < self.d0:
            raise ValueError(f"date range ends ({self.d1}) before it starts ({self.d0})")

    @property
    def n_days(self) -> int:
        return (self.d1 - self.d0).days + 1

    def params(self) -> dict[str, Any]:
        return {"d0": self.d0, "d1": self.d1,
                "hoods": list(self.hoods) or None, "prices": list(self.prices) or None,
                "time_bucket": self.time_bucket, "parties": list(self.parties) or None,
                "dows": list(self.dows) or None, "venue_id": self.venue_id}


def _df(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pd.DataFrame:
    return run(con, name, **params).df()


# --- freshness and "now" --------------------------------------------------------------------

def as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The data's now: the latest trusted poll (UTC, naive), or None before the first one."""
    row = run(con, "dash_as_of").fetchone()
    return row[0] if row else None


def freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_freshness")


def data_span(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """First and last aggregated (complete) day; the last raw-event day when nothing is aggregated."""
    first, last = last_aggregated_span(con)
    if last is not None:
        return first, last
    row = run(con, "dash_last_raw_day").fetchone()
    raw = row[0] if row else None
    return raw, raw


def last_aggregated_span(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """First and last day the nightly job has aggregated (None, None before its first run)."""
    row = run(con, "dash_data_span").fetchone()
    return (row[0], row[1]) if row else (None, None)


def filter_options(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_filter_options")


def venues(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_venues")


# --- market pulse ---------------------------------------------------------------------------

OPEN_CLASSES = ("just", "still", "baseline")


def open_now(con: duckdb.DuckDBPyConnection, f: Filters, now: datetime, window_s: int,
             limit: int = 500) -> tuple[pd.DataFrame, dict[str, int]]:
    """Slots open as of their bucket's last trusted poll, with age in seconds against ``now``.

    Returns (rows, counts): at most ``limit`` newest rows per class ('just': NEW_DROPs first seen
    within ``window_s``; 'still': older NEW_DROPs; 'baseline': open since calibration or reopened)
    and every class's full count under the filters.
    """
    p = f.params()
    df = _df(con, "dash_open_now", as_of=now, window_s=int(window_s), limit=int(limit), hoods=p["hoods"],
             prices=p["prices"], time_bucket=p["time_bucket"], parties=p["parties"])
    counts = {c: 0 for c in OPEN_CLASSES}
    counts.update({str(k): int(v) for k, v in df.groupby("cls")["n_class"].first().items()})
    return df, counts


def daily_drops(con: duckdb.DuckDBPyConnection, d0: date, d1: date) -> pd.DataFrame:
    """Market NEW_DROPs per venue-local day in [d0, d1]: aggregated days from market_daily (with
    their partial flag), days after the last aggregated one from the raw events (src 'raw')."""
    last = last_aggregated_span(con)[1]
    raw_from = d0 if last is None else max(d0, last + timedelta(days=1))
    return _df(con, "dash_daily_drops", d0=d0, d1=d1, raw_from=raw_from if raw_from <= d1 else None)


def today_vs_typical(daily: pd.DataFrame, today: date) -> dict[str, Any]:
    """Today's NEW_DROPs so far and the median complete (non-partial, aggregated) day before it,
    from a daily_drops frame."""
    day = pd.to_datetime(daily["day"]).dt.date
    today_n = int(daily.loc[day == today, "drops"].sum())
    past = daily[(day < today) & (daily["src"] == "aggregate") & ~daily["partial"].fillna(True).astype(bool)]
    return {"today": today_n, "typical": float(past["drops"].median()) if len(past) else None,
            "n_days": int(len(past))}


# --- rankings and distributions (nightly aggregates) ------------------------------------------

def _nightly_window(f: Filters) -> bool:
    """Whether F's slice is one the nightly job keeps in venue_rolling (7 or 14 days ending d1, every
    party size and weekday)."""
    return f.n_days in (7, 14) and not f.parties and not f.dows


def ranking(con: duckdb.DuckDBPyConnection, f: Filters, min_n: int) -> pd.DataFrame:
    """Per-venue scarcity ranking for the filtered slice (the venue filter is ignored: a venue is
    ranked among its comparables; see venue_summary).

    Every figure comes from the shared definitions (analytics/sql/measure_*.sql). A slice that is one
    of the nightly windows (7 or 14 days ending d1, no party-size or weekday filter) reads the
    venue_rolling rows the nightly job made with them (dash_ranking_rolling.sql); any other slice is
    computed from the per-day tables (dash_ranking.sql). Both give the same rows.
    """
    if _nightly_window(f):
        df = _df(con, "dash_ranking_rolling", d1=f.d1, window_days=f.n_days, tb=f.time_bucket or "all",
                 min_n=min_n, hoods=list(f.hoods) or None, prices=list(f.prices) or None)
        if len(df):
            return df
    p = f.params()
    p.pop("venue_id")
    return _df(con, "dash_ranking", min_n=min_n, **p)


def venue_summary(con: duckdb.DuckDBPyConnection, f: Filters, min_n: int) -> pd.DataFrame:
    """Venue ``f.venue_id``'s row of ``ranking`` for the same slice (empty when it has none): the
    figures Venue detail shows, ranked among the same venues as on Hardest tables.

    For a nightly window without neighborhood or price filters the row is read alone
    (dash_venue_summary_rolling.sql) when the scarcity score the nightly job stored is the one the
    ranking would give (same thin flags under ``min_n``); otherwise every venue is ranked.
    """
    if f.venue_id is None:
        raise ValueError("venue_summary needs a venue (Filters.venue_id)")
    if _nightly_window(f) and not f.hoods and not f.prices:
        # a nightly window ranked among every venue: the venue's stored row carries the same score
        row = _df(con, "dash_venue_summary_rolling", d1=f.d1, window_days=f.n_days, tb=f.time_bucket or "all",
                  min_n=min_n, venue_id=f.venue_id)
        if len(row) and row["stored_score_holds"].all():
            return row.drop(columns="stored_score_holds")
    df = ranking(con, f, min_n)
    return df[df["venue_id"] == f.venue_id].reset_index(drop=True)


def hist(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    """Merged log-binned time-to-close histogram per group (closed and censored counts).

    Market-wide from the per-day market rollup (market_daily_hist); one venue's (``f.venue_id``) from
    venue_daily_hist.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    p = f.params()
    if f.venue_id is None:
        p.pop("venue_id")
        return _df(con, "dash_hist", split=split, **p)
    return _df(con, "dash_venue_hist", split=split, **p)


def _over_hist(con: duckdb.DuckDBPyConnection, name: str, h: pd.DataFrame, **params: Any) -> pd.DataFrame:
    """Run NAME.sql over a histogram frame (registered as hist_frame for the one query)."""
    con.register("hist_frame", h[["grp", "bin", "lo_bin", "hi_bin", "n_closed", "n_censored"]])
    try:
        return _df(con, name, **params)
    finally:
        con.unregister("hist_frame")


def time_to_close_curve(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    """Survival of time-to-close per group and duration bin (measure_time_to_close's
    km_curve over ``hist``): survival with its 95% band, at_risk, and ``cdf``, the share of the closed
    drops closed by the bin's end."""
    return _over_hist(con, "dash_km_curve", hist(con, f, split))


def time_to_close(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    """Time-to-close per group (measure_time_to_close over ``hist``): n, the median
    with its 95% interval, the bound to show when the polls cannot resolve it, the median of the
    closed drops alone."""
    return _over_hist(con, "dash_time_to_close", hist(con, f, split))


def venue_daily(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return _df(con, "dash_venue_daily", split=split, **f.params())


def market_cells(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """market_daily under the filters (venue filter ignored: the table has no venue)."""
    p = f.params()
    p.pop("venue_id")
    df = _df(con, "dash_market_cells", **p)
    df["weekday_name"] = df["weekday"].map(lambda d: WEEKDAYS[int(d) - 1])
    return df


def days(con: duckdb.DuckDBPyConnection, d0: date, d1: date) -> pd.DataFrame:
    return _df(con, "dash_days", d0=d0, d1=d1)


def market_rolling(con: duckdb.DuckDBPyConnection, d0: date, d1: date) -> pd.DataFrame:
    return _df(con, "dash_market_rolling", d0=d0, d1=d1)


def supply(con: duckdb.DuckDBPyConnection, d1: date) -> pd.DataFrame:
    df = _df(con, "dash_supply", d1=d1)
    df["pct_vs_baseline"] = (df["open_slots"] / df["baseline_slots"].where(df["baseline_slots"] > 0) - 1) * 100
    df["pct_vs_week_before"] = (df["open_slots"] / df["ref_open_slots"].where(df["ref_open_slots"] > 0) - 1) * 100
    return df


def week_over_week(daily_totals: pd.DataFrame, d1: date) -> dict[str, Any]:
    """Drops in the 7 days ending d1 vs the 7 days before (change as a share)."""
    if not len(daily_totals):
        return {"this_week": 0, "last_week": 0, "change": None}
    day = pd.to_datetime(daily_totals["day"])
    end = pd.Timestamp(d1)
    this = int(daily_totals.loc[(day > end - pd.Timedelta(days=7)) & (day <= end), "drops"].sum())
    last = int(daily_totals.loc[(day > end - pd.Timedelta(days=14)) & (day <= end - pd.Timedelta(days=7)), "drops"].sum())
    return {"this_week": this, "last_week": last, "change": (this / last - 1) if last else None}


# --- one venue (finished intervals, kept for the whole history) ---------------------------------

def venue_heatmap(con: duckdb.DuckDBPyConnection, venue_id: int, d0: date, d1: date) -> pd.DataFrame:
    """The venue's NEW_DROPs by weekday and local hour over market days d0..d1 (nightly venue_hourly)."""
    df = _df(con, "dash_venue_heatmap", venue_id=venue_id, d0=d0, d1=d1)
    df["weekday"] = df["dow"].map(lambda d: WEEKDAYS[int(d) - 1])
    return df


def venue_intervals(con: duckdb.DuckDBPyConnection, venue_id: int, d0: date, d1: date, limit: int = 200) -> pd.DataFrame:
    """The venue's latest finished intervals that opened on venue-local days d0..d1."""
    return _df(con, "dash_venue_intervals", venue_id=venue_id, d0=d0, d1=d1, limit=limit)


def inventory(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    df = _df(con, "dash_inventory")
    df["compression"] = df["open_now"] / df["baseline_slots"].where(df["baseline_slots"] > 0) - 1
    return df


# --- data health ------------------------------------------------------------------------------

def poll_span(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    row = run(con, "dash_poll_span").fetchone()
    assert row is not None
    return {"first_at": row[0], "last_at": row[1], "polls": int(row[2]), "trusted": int(row[3] or 0)}


def poll_health(con: duckdb.DuckDBPyConnection, t0: datetime, t1: datetime) -> pd.DataFrame:
    return _df(con, "dash_poll_health", t0=t0, t1=t1)


def poll_gaps(con: duckdb.DuckDBPyConnection, t0: datetime, t1: datetime, min_gap_s: float) -> pd.DataFrame:
    return _df(con, "dash_poll_gaps", t0=t0, t1=t1, min_gap_s=min_gap_s)


def service_state(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_service_state")


# --- conversion funnels (analytics.funnels / analytics.goals) ----------------------------------

def funnel(con: duckdb.DuckDBPyConnection, d0: date, d1: date, tap_window_s: int, book_window_s: int,
           min_n: int, time_bucket: str | None = None, party_size: int | None = None) -> dict[str, pd.DataFrame] | None:
    """The funnel report for alerts first sent on UTC days d0..d1; None when tracking is not set up."""
    from analytics import funnels, goals

    if not funnels.has_table(con, "alert_events"):
        return None
    ff = funnels.make_filter(d0, d1 + timedelta(days=1), tap_window_s=tap_window_s,
                             book_window_s=book_window_s, time_bucket=time_bucket, party_size=party_size)
    sent = run(con, "dash_alert_count", t0=ff.start, t1=ff.end).fetchone()
    if not sent or not sent[0]:
        return {"steps": pd.DataFrame({"step": ["alert_sent"], "n": [0]})}
    out = funnels.funnel_report(con, ff, min_n)
    out["goals"] = goals.goal_summary(con, ff, min_n) if funnels.has_table(con, "goals") else pd.DataFrame()
    return out
