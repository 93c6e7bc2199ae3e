"""Everything the digest reads for one week, gathered once: the dashboard's queries
(analytics.views / dash_*.sql) where they fit, digest_*.sql for the rest.

All reads go through named SQL files with $named parameters. Frames come back sorted, so the
same database and week always give the same rows in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from analytics import funnels, views
from analytics.digest.week import IsoWeek
from analytics.sql_loader import run
from analytics.views import Filters

HISTORY_WEEKS = 4          # earlier weeks read to measure week-to-week noise


@dataclass
class WeekData:
    week: IsoWeek
    d0: date
    d1: date
    tz: str
    min_sample: int
    days: pd.DataFrame              # digest_days, this week
    history_days: pd.DataFrame      # digest_days, the HISTORY_WEEKS + 1 weeks before
    cells: pd.DataFrame             # dash_market_cells, this week
    hoods: pd.DataFrame             # digest_neighborhoods
    ranking: pd.DataFrame           # dash_ranking, this week, all time buckets
    prev_ranking: pd.DataFrame      # dash_ranking, the week before
    prime_ranking: pd.DataFrame     # dash_ranking, this week, prime time only
    prime_market: pd.DataFrame      # views.time_to_close, market-wide, prime, this week (one row)
    supply: dict[int, pd.DataFrame]  # weeks back (0 = this week) -> digest_supply_pairs
    rolling: pd.DataFrame           # dash_market_rolling, window 7, as_of = Sundays of this + earlier weeks
    funnel: dict[str, pd.DataFrame] | None   # analytics.funnels report; None = no tracking table
    funnel_sent: int
    as_of: datetime | None          # last trusted poll (UTC)
    last_day: date | None           # last aggregated day
    tap_window_s: int
    book_window_s: int


def week_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return run(con, "digest_weeks").df()


def local_midnight_utc(d: date, tz: str) -> datetime:
    """Market-local midnight of ``d`` as a naive UTC datetime (the funnels' time base)."""
    loc = datetime.combine(d, time()).replace(tzinfo=ZoneInfo(tz))
    return loc.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _dates(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """DATE columns as datetime.date objects (DuckDB hands them to pandas as datetime64)."""
    for c in cols:
        if c in df.columns:
            df[c] = [None if pd.isna(v) else _as_date(v) for v in df[c]]
    return df


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by, kind="mergesort").reset_index(drop=True) if len(df) else df.reset_index(drop=True)


def gather(con: duckdb.DuckDBPyConnection, week: IsoWeek, *, tz: str, min_sample: int,
           tap_window_s: int, book_window_s: int) -> WeekData:
    d0, d1 = week.monday, week.sunday
    p0, p1 = d0 - timedelta(days=7), d1 - timedelta(days=7)
    h0 = d0 - timedelta(days=7 * (HISTORY_WEEKS + 1))
    days = _dates(run(con, "digest_days", d0=d0, d1=d1).df(), "metric_date")
    history = _dates(run(con, "digest_days", d0=h0, d1=d0 - timedelta(days=1)).df(), "metric_date")
    cells = views.market_cells(con, Filters(d0, d1))
    hoods = run(con, "digest_neighborhoods", d0=d0, d1=d1, p0=p0, p1=p1).df()
    ranking = _sorted(views.ranking(con, Filters(d0, d1), min_sample), ["venue_id"])
    prev_ranking = _sorted(views.ranking(con, Filters(p0, p1), min_sample), ["venue_id"])
    prime_ranking = _sorted(views.ranking(con, Filters(d0, d1, time_bucket="prime"), min_sample), ["venue_id"])
    prime_market = views.time_to_close(con, Filters(d0, d1, time_bucket="prime"))
    supply: dict[int, pd.DataFrame] = {}
    for k in range(HISTORY_WEEKS + 1):
        a0, a1 = d0 - timedelta(days=7 * k), d1 - timedelta(days=7 * k)
        supply[k] = _dates(run(con, "digest_supply_pairs", b0=a1 - timedelta(days=1), b1=a1, a0=a0, a1=a1).df(),
                           "as_of", "bucket_date")
    rolling = _dates(views.market_rolling(con, d1 - timedelta(days=7 * HISTORY_WEEKS), d1), "as_of")
    if len(rolling):
        sundays = {d1 - timedelta(days=7 * k) for k in range(HISTORY_WEEKS + 1)}
        rolling = rolling[(rolling["window_days"] == 7) & rolling["as_of"].isin(sundays)]
        rolling = _sorted(rolling, ["as_of", "time_bucket"])
    funnel: dict[str, pd.DataFrame] | None = None
    sent = 0
    if funnels.has_table(con, "alert_events"):
        ff = funnels.make_filter(local_midnight_utc(d0, tz), local_midnight_utc(d1 + timedelta(days=1), tz),
                                 tap_window_s=int(tap_window_s), book_window_s=int(book_window_s))
        row = run(con, "dash_alert_count", t0=ff.start, t1=ff.end).fetchall()
        sent = int(row[0][0]) if row and row[0][0] else 0
        funnel = funnels.funnel_report(con, ff, min_sample) if sent else {}
    _first, last_day = views.data_span(con)
    return WeekData(week=week, d0=d0, d1=d1, tz=tz, min_sample=int(min_sample), days=days, history_days=history,
                    cells=cells, hoods=hoods, ranking=ranking, prev_ranking=prev_ranking,
                    prime_ranking=prime_ranking, prime_market=prime_market, supply=supply, rolling=rolling,
                    funnel=funnel, funnel_sent=sent, as_of=views.as_of(con), last_day=last_day,
                    tap_window_s=int(tap_window_s), book_window_s=int(book_window_s))


def _as_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return pd.Timestamp(v).date()
