"""Timing and volatility: weekday x time bucket, drops by hour, best hours to watch, volatility index."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analytics.views import WEEKDAYS
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

st.title("Timing and volatility")
f = filters.current()
cells = guard.load(data.market_cells, f)
days = guard.load(data.days, f.d0, f.d1)
if f.dows:
    days = days[days["weekday"].isin(f.dows)]
if cells.empty or days.empty:
    notes.empty("timing", "no aggregated market day matches these filters.")
    st.stop()
# A day not observed from start to end (collection started or stopped, an outage) would read as a
# quiet one: averages count the complete days only. A weekday seen only partly keeps its partial days,
# and its row says so; so does the hour chart when no day is complete.
only_partial = days.groupby("weekday")["partial"].transform("all")
used_days = days[~days["partial"] | only_partial]
partial_wds = set(days.loc[only_partial, "weekday"])
n_left = len(days) - len(used_days)

st.subheader("Weekday and time bucket")
wd_cells = cells[cells["day"].isin(used_days["day"])]
wd = wd_cells.groupby(["weekday", "weekday_name", "time_bucket"], as_index=False)["drops"].sum()
wd["days"] = wd["weekday"].map(used_days.groupby("weekday").size())
wd["drops_per_day"] = wd["drops"] / wd["days"]


def weekday_label(d: int) -> str:
    return WEEKDAYS[d - 1] + (" (partial)" if d in partial_wds else "")


wd["weekday_name"] = wd["weekday"].map(weekday_label)
wd["time_bucket"] = wd["time_bucket"].map(lambda b: display.TIME_BUCKETS.get(b, b))
charts.show(alt.Chart(wd).mark_rect().encode(
    x=alt.X("time_bucket:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
    y=alt.Y("weekday_name:O", sort=[weekday_label(d) for d in range(1, 8)], title=None),
    color=alt.Color("drops_per_day:Q", title="drops / day"),
    tooltip=[alt.Tooltip("weekday_name:N", title="weekday"), alt.Tooltip("time_bucket:N", title="time bucket"),
             alt.Tooltip("drops_per_day:Q", title="drops / day", format=",.1f"),
             alt.Tooltip("drops:Q", title="drops", format=","), alt.Tooltip("days:Q", title="days")]),
    "Market NEW_DROPs per day, by weekday seen and time bucket of the slot, over complete days"
    + (f" ({n_left} partly observed day(s) left out)" if n_left else "")
    + ("; '(partial)': that weekday was only partly observed" if partial_wds & set(wd["weekday"]) else "")
    + "".join(f"; {WEEKDAYS[d - 1]}: only partly observed, no drop seen" for d in sorted(partial_wds - set(wd["weekday"]))),
    int(wd["drops"].sum()))

st.subheader("Drops by hour of day")
complete = days[~days["partial"]]
hour_days = complete if len(complete) else days
n_days = len(hour_days)
hr = cells[cells["day"].isin(hour_days["day"])].groupby("hour_local", as_index=False)["drops"].sum()
hr["drops_per_day"] = hr["drops"] / n_days
charts.show(alt.Chart(hr).mark_bar().encode(
    x=alt.X("hour_local:O", title="hour first seen (venue-local)", axis=alt.Axis(labelAngle=0)),
    y=alt.Y("drops_per_day:Q", title="drops / day"),
    tooltip=[alt.Tooltip("hour_local:O", title="hour"), alt.Tooltip("drops_per_day:Q", title="drops / day", format=",.1f"),
             alt.Tooltip("drops:Q", title="drops", format=",")]),
    f"Market NEW_DROPs per hour of day, averaged over {n_days} "
    + (f"complete day(s) ({len(days) - n_days} partly observed day(s) left out)" if len(complete)
       else "day(s), every one only partly observed: hours not watched read low"), int(hr["drops"].sum()))

st.subheader("Best hours to watch")
best = hr.sort_values(["drops_per_day", "hour_local"], ascending=[False, True]).head(5)
best = best.assign(hour=best["hour_local"].map(lambda h: f"{int(h):02d}:00–{int(h):02d}:59"),
                   share_of_day=best["drops"] / hr["drops"].sum())
C = display.Col
display.table(best, {"hour": C("Hour (venue-local)"), "drops_per_day": C("Drops / day", "number"),
                     "share_of_day": C("Share of the day's drops", "share"), "drops": C("Drops", "count")},
              key="best_hours")
notes.caption("The five hours with the most NEW_DROPs per observed day under the filters", int(best["drops"].sum()))

st.subheader("Prime-time volatility index")
mr = guard.load(data.market_rolling, f.d0, f.d1)
mr = mr[mr["window_days"] == 14] if len(mr) else mr
if mr.empty:
    daily = cells[cells["day"].isin(hour_days["day"])].groupby(["day", "time_bucket"], as_index=False)["drops"].sum()
    cv = daily.groupby("time_bucket")["drops"].agg(lambda s: s.std(ddof=0) / s.mean() if s.mean() else None)
    c1, c2 = st.columns(2)
    c1.metric("Prime: CV of daily drops", "—" if pd.isna(cv.get("prime")) else f"{cv.get('prime'):.2f}")
    c2.metric("Off-peak: CV of daily drops", "—" if pd.isna(cv.get("off_peak")) else f"{cv.get('off_peak'):.2f}")
    notes.caption("Rolling index not computed yet (nightly job); shown instead: std / mean of the market's "
                  "daily drops per time bucket", len(daily))
else:
    last = mr[mr["as_of"] == mr["as_of"].max()].set_index("time_bucket")
    c1, c2 = st.columns(2)
    for col, tb in ((c1, "prime"), (c2, "off_peak")):
        v = last["volatility_index"].get(tb) if tb in last.index else None
        col.metric(f"{'Prime' if tb == 'prime' else 'Off-peak'} volatility index", "—" if v is None or pd.isna(v) else f"{v:.0f}")
    # A spread needs two days; a window holding a day not observed in full is drawn as partial
    first, _last = display.coverage()
    vol = mr[(mr["time_bucket"] != "all") & (mr["days_observed"] >= 2)].rename(columns={"as_of": "day"})
    starts = (pd.to_datetime(vol["day"]) - pd.to_timedelta(vol["window_days"] - 1, unit="D")).dt.date
    vol = vol.assign(partial=(vol["partial_days"] > 0) | (starts <= first if first is not None else False))
    vol = display.mark_partial(vol).assign(time_bucket=lambda d: d["time_bucket"].map(display.TIME_BUCKETS))
    if vol.empty:
        notes.empty("volatility trend", "the index needs at least two observed days in its window.")
    else:
        charts.show(display.day_line(vol, alt.Y("volatility_index:Q", title="volatility index"),
                                     [alt.Tooltip("time_bucket:N", title="time bucket"),
                                      alt.Tooltip("volatility_index:Q", title="index", format=".0f"),
                                      alt.Tooltip("venues_ranked:Q", title="venues")],
                                     series="time_bucket", series_title="time bucket"),
                    "100 x mean over non-thin venues of each venue's coefficient of variation of daily drops, "
                    "14-day window ending that day; hollow: the window holds a day not observed in full",
                    int(last["venues_ranked"].max()) if "venues_ranked" in last else None)
