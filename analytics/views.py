"""The dashboard's read queries: plain arguments in, pandas DataFrames out.

Called by dashboard/data.py (cached there) and by bench/dashboard.py; each function takes an open
DuckDB connection and runs one analytics/sql/dash_*.sql file with named parameters. Knows nothing
of Streamlit. Filters travel as a frozen, hashable ``Filters`` so callers can cache on them.
"""

from __future__ import annotations

import math
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
    dows: tuple[int, ...] = ()      # ISO weekday of the slot date, 1=Mon..7=Sun
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
    row = run(con, "dash_data_span").fetchone()
    return (row[0], row[1]) if row else (None, None)


def filter_options(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_filter_options")


def venues(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "dash_venues")


# --- market pulse ---------------------------------------------------------------------------

def open_now(con: duckdb.DuckDBPyConnection, f: Filters, now: datetime, sources: tuple[str, ...] = ()) -> pd.DataFrame:
    """Slots open as of their bucket's last trusted poll, with age in seconds against ``now``."""
    p = f.params()
    return _df(con, "dash_open_now", as_of=now, sources=list(sources) or None, hoods=p["hoods"],
               prices=p["prices"], time_bucket=p["time_bucket"], parties=p["parties"])


def drops_by_day(con: duckdb.DuckDBPyConnection, d0: date, d1: date) -> pd.DataFrame:
    """NEW_DROP events per venue-local day from the raw events (retention window only)."""
    return _df(con, "dash_drops_by_day", d0=d0, d1=d1)


def today_vs_typical(con: duckdb.DuckDBPyConnection, today: date, lookback_days: int = 28) -> dict[str, Any]:
    """Today's NEW_DROP count so far and the median over earlier full days (n = days used)."""
    df = drops_by_day(con, today - timedelta(days=lookback_days), today)
    today_n = int(df.loc[df["day"] == pd.Timestamp(today), "drops"].sum()) if len(df) else 0
    past = df.loc[df["day"] < pd.Timestamp(today), "drops"] if len(df) else pd.Series(dtype=float)
    return {"today": today_n, "typical": float(past.median()) if len(past) else None,
            "n_days": int(len(past))}


# --- rankings and distributions ---------------------------------------------------------------

def ranking(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    """Per-venue drop statistics under the filters (unsorted, unflagged: see scored_ranking)."""
    return _df(con, "dash_ranking", n_days=f.n_days, **f.params())


def duration_bins(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return _df(con, "dash_duration_bins", split=split, **f.params())


def survival(bins: pd.DataFrame) -> pd.DataFrame:
    """Kaplan-Meier survival of time-to-close per group from binned closed/censored counts.

    Censored intervals leave the risk set after the events of their bin (the usual KM convention).
    Returns grp, bin_s, at_risk, closed, censored, survival, cdf (share closed by bin_s among the
    closed only: the empirical CDF of observed durations).
    """
    rows: list[dict[str, Any]] = []
    for grp, g in bins.sort_values(["grp", "bin_s"]).groupby("grp", sort=True):
        at_risk = int(g["closed"].sum() + g["censored"].sum())
        total_closed = int(g["closed"].sum())
        s, cum_closed = 1.0, 0
        for b in g.itertuples(index=False):
            closed, censored = int(b.closed), int(b.censored)
            if at_risk > 0:
                s *= 1.0 - closed / at_risk
            cum_closed += closed
            rows.append({"grp": grp, "bin_s": float(b.bin_s), "at_risk": at_risk, "closed": closed,
                         "censored": censored, "survival": s,
                         "cdf": cum_closed / total_closed if total_closed else math.nan})
            at_risk -= closed + censored
    return pd.DataFrame(rows, columns=["grp", "bin_s", "at_risk", "closed", "censored", "survival", "cdf"])


def km_median(surv: pd.DataFrame) -> float | None:
    """First bin where the survival estimate reaches 0.5 (None if it never does)."""
    hit = surv.loc[surv["survival"] <= 0.5, "bin_s"]
    return float(hit.iloc[0]) if len(hit) else None


def drop_heatmap(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    df = _df(con, "dash_drop_heatmap", **f.params())
    df["drops_per_day"] = df["drops"] / df["n_days"].clip(lower=1)
    df["weekday"] = df["dow"].map(lambda d: WEEKDAYS[int(d) - 1])
    return df


def daily(con: duckdb.DuckDBPyConnection, f: Filters, split: str = "none") -> pd.DataFrame:
    if split not in SPLITS or split == "party_size":
        raise ValueError(f"split must be one of none, time_bucket, neighborhood, price_range; got {split!r}")
    return _df(con, "dash_daily", split=split, **f.params())


def by_slot_weekday(con: duckdb.DuckDBPyConnection, f: Filters) -> pd.DataFrame:
    df = _df(con, "dash_by_slot_weekday", **f.params())
    df["weekday"] = df["dow"].map(lambda d: WEEKDAYS[int(d) - 1])
    return df


def volatility_index(daily_df: pd.DataFrame) -> dict[str, Any]:
    """Prime-time volatility index: coefficient of variation (std / mean) of daily prime drops."""
    s = daily_df.groupby("day")["prime_drops"].sum() if len(daily_df) else pd.Series(dtype=float)
    mean = float(s.mean()) if len(s) else math.nan
    std = float(s.std(ddof=1)) if len(s) > 1 else math.nan
    return {"index": std / mean if mean and not math.isnan(std) else None, "mean": mean, "std": std,
            "n_days": int(len(s))}


def week_over_week(daily_df: pd.DataFrame, d1: date) -> dict[str, Any]:
    """Drops in the 7 days ending d1 vs the 7 days before (change as a share)."""
    if not len(daily_df):
        return {"this_week": 0, "last_week": 0, "change": None}
    day = pd.to_datetime(daily_df["day"])
    end = pd.Timestamp(d1)
    this = int(daily_df.loc[(day > end - pd.Timedelta(days=7)) & (day <= end), "drops"].sum())
    last = int(daily_df.loc[(day > end - pd.Timedelta(days=14)) & (day <= end - pd.Timedelta(days=7)), "drops"].sum())
    return {"this_week": this, "last_week": last, "change": (this / last - 1) if last else None}


def venue_intervals(con: duckdb.DuckDBPyConnection, venue_id: int, limit: int = 200) -> pd.DataFrame:
    return _df(con, "dash_venue_intervals", venue_id=venue_id, limit=limit)


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
