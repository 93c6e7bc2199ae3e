"""Market trends: daily totals, by neighborhood, supply compression, 14-day forward density, week over week."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analytics import views
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

TOP_HOODS = 8

st.title("Market trends")
f = filters.current()
cells = guard.load(data.market_cells, f)
if cells.empty:
    notes.empty("market trends", "no aggregated market day matches these filters.")
    st.stop()

totals = cells.groupby("day", as_index=False).agg(drops=("drops", "sum"), release_drops=("release_drops", "sum"),
                                                   partial=("partial", "max"))
wow = views.week_over_week(totals, f.d1)
c1, c2, c3 = st.columns(3)
c1.metric("Drops, last 7 days", f"{wow['this_week']:,}",
          delta=None if wow["change"] is None else f"{wow['change']:+.0%} vs the 7 days before")
before = pd.to_datetime(totals["day"]).between(pd.Timestamp(f.d1) - pd.Timedelta(days=13), pd.Timestamp(f.d1) - pd.Timedelta(days=7))
c2.metric("Drops, the 7 days before", f"{wow['last_week']:,}" if before.any() else "—",
          help=None if before.any() else "No aggregated day in that week: nothing to compare with")
shown_totals = display.mark_partial(totals)
c3.metric("Days in range not observed in full", int((shown_totals[display.DAY_KIND] == display.PARTIAL).sum()),
          help="Collection began or stopped that day, or an outage: such a day is partial, not quiet")

st.subheader("Daily totals")
charts.show(display.day_line(shown_totals, alt.Y("drops:Q", title="NEW_DROPs"),
                             [alt.Tooltip("drops:Q", title="NEW_DROPs", format=","),
                              alt.Tooltip("release_drops:Q", title="of which releases", format=",")]),
    "Market NEW_DROPs per market-local day under the filters; the line joins complete days, grey points are "
    "days not observed in full (not quiet days)", int(totals["drops"].sum()))

st.subheader("By neighborhood")
by_h = cells.groupby("neighborhood", as_index=False)["drops"].sum().sort_values("drops", ascending=False)
top = by_h.head(TOP_HOODS)["neighborhood"].tolist()
hd = cells[cells["neighborhood"].isin(top)].groupby(["day", "neighborhood"], as_index=False).agg(
    drops=("drops", "sum"), partial=("partial", "max"))
charts.show(display.day_line(display.mark_partial(hd), alt.Y("drops:Q", title="NEW_DROPs"),
                             [alt.Tooltip("neighborhood:N", title="neighborhood"),
                              alt.Tooltip("drops:Q", title="NEW_DROPs", format=",")],
                             series="neighborhood", series_title="neighborhood"),
    f"Daily NEW_DROPs of the {len(top)} busiest neighborhoods in range; hollow points: days not observed in full",
    int(hd["drops"].sum()))
display.table(by_h, {"neighborhood": display.Col("Neighborhood"), "drops": display.Col("NEW_DROPs", "count")},
              key="by_neighborhood")
notes.caption("NEW_DROPs per neighborhood over the date range", int(by_h["drops"].sum()))

st.subheader("Supply compression and 14-day forward density")
sup = guard.load(data.supply, f.d1)
if sup.empty:
    inv = guard.load(data.inventory)
    if inv.empty:
        notes.empty("supply", "no bucket has a baseline yet.")
    else:
        inv = inv.assign(time_bucket=inv["time_bucket"].map(display.TIME_BUCKETS))
        charts.show(alt.Chart(inv).mark_bar().encode(
            x=display.day_x("bucket_date", "slot date"),
            y=alt.Y("compression:Q", title="open now vs baseline", axis=alt.Axis(format="+%")),
            color=alt.Color("time_bucket:N", title="time bucket"), xOffset="time_bucket:N",
            tooltip=[display.day_tooltip("bucket_date", "slot date"), alt.Tooltip("time_bucket:N", title="time bucket"),
                     alt.Tooltip("open_now:Q", title="open now", format=","),
                     alt.Tooltip("baseline_slots:Q", title="baseline", format=","),
                     alt.Tooltip("compression:Q", title="vs baseline", format="+.0%")]),
            "Open slots now vs at the bucket's baseline, per slot date (nightly supply tables not built yet)",
            int(inv["open_now"].sum()))
else:
    sup = sup.assign(time_bucket=sup["time_bucket"].map(display.TIME_BUCKETS),
                     vs_baseline=sup["pct_vs_baseline"] / 100, vs_week_before=sup["pct_vs_week_before"] / 100)
    charts.show(alt.Chart(sup).mark_bar().encode(
        x=display.day_x("bucket_date", "slot date"),
        y=alt.Y("vs_baseline:Q", title="open slots vs baseline", axis=alt.Axis(format="+%")),
        color=alt.Color("time_bucket:N", title="time bucket"), xOffset="time_bucket:N",
        tooltip=[display.day_tooltip("bucket_date", "slot date"), alt.Tooltip("time_bucket:N", title="time bucket"),
                 alt.Tooltip("lead_days:Q", title="days ahead"), alt.Tooltip("open_slots:Q", title="open", format=","),
                 alt.Tooltip("baseline_slots:Q", title="baseline", format=","),
                 alt.Tooltip("vs_baseline:Q", title="vs baseline", format="+.0%"),
                 alt.Tooltip("vs_week_before:Q", title="vs a week before", format="+.0%")]),
        f"Open inventory per slot date at the last snapshot of {pd.Timestamp(sup['as_of'].iloc[0]):%a %-d %b %Y} vs "
        "its baseline (negative = supply tightened)", int(sup["open_slots"].sum()))
mr = guard.load(data.market_rolling, f.d0, f.d1)
mr = mr[(mr["window_days"] == 7) & (mr["time_bucket"] == "all")] if len(mr) else mr
if mr.empty:
    notes.empty("forward density", "the nightly job has not written market_rolling for these dates.")
else:
    density = display.mark_partial(mr.rename(columns={"as_of": "day"}).assign(partial=False))
    charts.show(display.day_line(density, alt.Y("forward_density:Q", title="open / baseline, next 14 days",
                                                 axis=alt.Axis(format="%")),
                                 [alt.Tooltip("forward_density:Q", title="density", format=".0%"),
                                  alt.Tooltip("forward_open_slots:Q", title="open slots", format=",")]),
        "14-day forward availability density: open slots over the next 14 days / their baseline, at the end "
        "of each day; grey: a day not observed in full",
        int(mr["forward_open_slots"].fillna(0).iloc[-1]))
    last = mr.iloc[-1]
    if pd.notna(last["compression_pct"]):
        st.metric("Forward supply vs a week earlier", f"{last['compression_pct']:+.0f}%")
