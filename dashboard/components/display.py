"""How the pages draw: day axes with one bar per day, duration axes, partial days marked with a
legend, and tables with labelled, formatted columns. Pages shape their frames and call these, so a
day, a duration, a share or a count reads the same on every page.

Days arrive as naive dates (market-local calendar days); they are drawn in UTC time units so a
browser in any timezone keeps each value on its own day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

import altair as alt
import pandas as pd
import streamlit as st

from analytics import fmt
from analytics.theme import MUTED, PALETTE
from dashboard import data
from dashboard.components import guard

DAY_UNIT: Final[Literal["utcyearmonthdate"]] = "utcyearmonthdate"
DAY_FORMAT = "%a %-d %b"            # Mon 30 Nov
COMPLETE, PARTIAL = "complete day", "partial day (not observed in full)"
DAY_KIND = "day_kind"
TIME_BUCKETS = {"prime": "Prime", "off_peak": "Off-peak", "all": "All times"}

# Log-scale duration ticks a person reads without arithmetic.
_TICKS = [(1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"),
          (4 * 3600, "4 h"), (86400, "1 d"), (7 * 86400, "7 d"), (30 * 86400, "30 d")]
_TICK_LABEL = " : ".join(f"datum.value == {v} ? '{label}'" for v, label in _TICKS) + " : ''"
BIN_RATIO = 10 ** (1 / 20)         # duration bins are 20 per decade (duration_bins)


# --- days -------------------------------------------------------------------------------------

def day_x(field: str = "day", title: str | None = None) -> alt.X:
    """One band per calendar day: bars fill their day, xOffset groups fit inside it."""
    return alt.X(f"{field}:O", timeUnit=DAY_UNIT, title=title,
                 axis=alt.Axis(labelExpr=f"utcFormat(datum.value, '{DAY_FORMAT}')", labelAngle=0,
                               labelOverlap="greedy"))


def day_tooltip(field: str = "day", title: str = "day") -> alt.Tooltip:
    return alt.Tooltip(f"{field}:T", timeUnit=DAY_UNIT, title=title, format="%a %-d %b %Y", formatType="utc")


def coverage() -> tuple[date | None, date | None]:
    """(first, last) market-local day of the poll ledger: the day collection began and the day of
    the latest poll (still running). Neither was observed from its start to its end."""
    span = guard.load(data.poll_span)
    first, last = data.local_now(span["first_at"]), data.local_now(span["last_at"])
    return (first.date() if first else None, last.date() if last else None)


def mark_partial(df: pd.DataFrame, day: str = "day", partial: str | None = "partial") -> pd.DataFrame:
    """DF with its day column as timestamps and a DAY_KIND column: partial when the data says so
    (an outage day), when collection began or ended that day (coverage), or when unknown."""
    out = df.copy()
    out[day] = pd.to_datetime(out[day])
    first, last = coverage()
    flag = (out[partial].astype("boolean").fillna(True).astype(bool) if partial and partial in out
            else pd.Series(False, index=out.index))
    d = out[day].dt.date
    if first is not None:
        flag |= d <= first
    if last is not None:
        flag |= d >= last
    out[DAY_KIND] = flag.map({False: COMPLETE, True: PARTIAL})
    return out


def day_color(title: str = "day") -> alt.Color:
    """Complete days in the palette's blue, partial ones in grey, with a legend saying so."""
    return alt.Color(f"{DAY_KIND}:N", title=title,
                     scale=alt.Scale(domain=[COMPLETE, PARTIAL], range=[PALETTE[0], MUTED]))


def day_bars(df: pd.DataFrame, y: alt.Y, tooltip: list[Any], day: str = "day") -> alt.Chart:
    """One bar per day, partial days grey (DF from mark_partial)."""
    return alt.Chart(df).mark_bar().encode(x=day_x(day), y=y, color=day_color(),
                                           tooltip=[day_tooltip(day), *tooltip])


def day_line(df: pd.DataFrame, y: alt.Y, tooltip: list[Any], day: str = "day",
             series: str | None = None, series_title: str | None = None) -> alt.LayerChart:
    """A line through the complete days only (a partly observed day would read as a dip), and a
    point on every day, partial ones grey. SERIES splits the line by colour; partial days then show
    as hollow points in their series' colour."""
    tips = [day_tooltip(day), *tooltip]
    complete = df[df[DAY_KIND] == COMPLETE]
    if series is None:
        line = alt.Chart(complete).mark_line().encode(x=day_x(day), y=y)
        points = alt.Chart(df).mark_point(filled=True, size=50).encode(x=day_x(day), y=y, color=day_color(),
                                                                        tooltip=tips)
        return line + points
    colour = alt.Color(f"{series}:N", title=series_title)
    line = alt.Chart(complete).mark_line(point=True).encode(x=day_x(day), y=y, color=colour, tooltip=tips)
    hollow = alt.Chart(df[df[DAY_KIND] == PARTIAL]).mark_point(filled=False, size=60).encode(
        x=day_x(day), y=y, color=colour, tooltip=tips)
    return line + hollow


# --- durations --------------------------------------------------------------------------------

def duration_x(field: str, title: str) -> alt.X:
    """Seconds on a log axis labelled 1 s, 1 min, 1 h, 1 d ..."""
    return alt.X(f"{field}:Q", title=title, scale=alt.Scale(type="log"),
                 axis=alt.Axis(values=[v for v, _ in _TICKS], labelExpr=_TICK_LABEL))


def survival_chart(surv: pd.DataFrame, group: str | None = None, group_title: str | None = None) -> alt.LayerChart:
    """The time-to-close survival curve (measure_time_to_close km_curve rows) over the band the polls
    alone guarantee (surely_open to maybe_open): between polls the curve cannot say when a table
    closed, the band says how far that leaves it free. One colour per GROUP when given."""
    x = duration_x("hi_s", "time open (log scale)")
    share = alt.Scale(domain=[0, 1])
    enc: dict[str, Any] = {}
    tips = [alt.Tooltip("hi_s:Q", title="seconds open", format=",.0f"),
            alt.Tooltip("survival:Q", title="still open (estimate)", format=".1%"),
            alt.Tooltip("surely_open:Q", title="surely still open", format=".1%"),
            alt.Tooltip("maybe_open:Q", title="perhaps still open", format=".1%")]
    if group is not None:
        enc["color"] = alt.Color(f"{group}:N", title=group_title)
        tips = [alt.Tooltip(f"{group}:N", title=group_title), *tips]
    band = alt.Chart(surv).mark_area(interpolate="step-after", opacity=0.18).encode(
        x=x, y=alt.Y("surely_open:Q", scale=share, title="share still open"), y2="maybe_open:Q", **enc)
    line = alt.Chart(surv).mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("survival:Q", title="share still open", scale=share, axis=alt.Axis(format="%")),
        tooltip=tips, **enc)
    return band + line


def duration_hist(surv: pd.DataFrame, y_title: str, group: str | None = None,
                  group_title: str | None = None) -> alt.Chart:
    """Closed drops per log-spaced duration bin (bars overlap by GROUP when given). The first bin
    starts at 0 s, which a log axis cannot place: it is drawn one bin wide, like its neighbours."""
    h = surv[surv["closed"] > 0]          # empty bins draw nothing; the axis spans the bins that do
    h = h.assign(lo_plot=h["lo_s"].where(h["lo_s"] > 0, h["hi_s"] / BIN_RATIO),
                    time_to_close=[f"{fmt.duration(lo)} to {fmt.duration(hi)}"
                                   for lo, hi in zip(h["lo_s"], h["hi_s"], strict=True)])
    tips = [alt.Tooltip("time_to_close:N", title="time to close"),
            alt.Tooltip("closed:Q", title="closed drops", format=",.0f")]
    enc: dict[str, Any] = {"x": duration_x("lo_plot", "time to close (log scale)"), "x2": "hi_s:Q",
                           "y": alt.Y("closed:Q", title=y_title, stack=None), "y2": alt.datum(0)}
    if group is not None:
        enc["color"] = alt.Color(f"{group}:N", title=group_title)
        tips = [alt.Tooltip(f"{group}:N", title=group_title), *tips]
    return alt.Chart(h).mark_bar(opacity=0.75 if group else 1.0, cornerRadiusEnd=0).encode(**enc, tooltip=tips)


# --- tables -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """A shown column: its label and how its values read.

    kind: text | count | number | share (0-1, shown as %) | pct (already %, signed) | duration
    (seconds, '2 min 10 s') | minutes (sortable 'N min') | date | datetime | time | flag |
    price (1-4 as '$$') | bucket (prime / off_peak as words) | hidden (kept in the data, not shown:
    a key the page needs back, e.g. the raw value behind a worded one)."""

    label: str
    kind: str = "text"
    help: str | None = None
    digits: int = 1


def _column(c: Col) -> Any:
    cc = st.column_config
    if c.kind == "hidden":
        return None
    if c.kind in ("count",):
        return cc.NumberColumn(c.label, help=c.help, format="localized")
    if c.kind in ("number", "minutes", "share", "pct"):
        unit = {"number": "", "minutes": " min", "share": "%", "pct": "%"}[c.kind]
        sign = "+" if c.kind == "pct" else ""
        return cc.NumberColumn(c.label, help=c.help, format=f"%{sign}.{c.digits}f{unit.replace('%', '%%')}")
    if c.kind == "date":
        return cc.DateColumn(c.label, help=c.help, format="ddd D MMM YYYY")
    if c.kind == "datetime":
        return cc.DatetimeColumn(c.label, help=c.help, format="YYYY-MM-DD HH:mm:ss")
    if c.kind == "time":
        return cc.TimeColumn(c.label, help=c.help, format="HH:mm")
    if c.kind == "flag":
        return cc.CheckboxColumn(c.label, help=c.help)
    return cc.TextColumn(c.label, help=c.help)


def _values(s: pd.Series, c: Col) -> pd.Series:
    # numbers are rounded to the digits shown: the grid's text (what a screen reader or a copy
    # gets) then says what the formatted cell says
    if c.kind == "share":
        return (s.astype(float) * 100).round(c.digits)
    if c.kind in ("number", "minutes", "pct"):
        return s.astype(float).round(c.digits)
    if c.kind == "duration":
        return s.map(fmt.duration)
    if c.kind == "price":
        return s.map(lambda p: "$" * int(p) if pd.notna(p) else fmt.DASH)
    if c.kind == "bucket":
        return s.map(lambda b: TIME_BUCKETS.get(str(b), str(b)))
    if c.kind == "date":
        return pd.to_datetime(s).dt.date
    return s


def shown(df: pd.DataFrame, cols: dict[str, Col]) -> pd.DataFrame:
    """DF's COLS in order, values as they read (the frame a CSV export of the view writes)."""
    return pd.DataFrame({name: _values(df[name], c) for name, c in cols.items()}, index=df.index)


def table(df: pd.DataFrame, cols: dict[str, Col], key: str, **kw: Any) -> Any:
    """st.dataframe of DF's COLS only, each labelled and formatted; KW passes through (selection)."""
    return st.dataframe(shown(df, cols), hide_index=True, width="stretch", key=key,
                        column_config={name: _column(c) for name, c in cols.items()}, **kw)
