"""Market trends: daily totals, by neighborhood, supply compression, 14-day forward density, week over week."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analytics import views
from dashboard import data
from dashboard.components import charts, filters, guard, notes

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
c2.metric("Drops, the 7 days before", f"{wow['last_week']:,}")
c3.metric("Days in range with an outage (partial)", int(totals["partial"].sum()))

st.subheader("Daily totals")
charts.show(alt.Chart(totals).mark_line(point=True).encode(
    x=alt.X("day:T", title=None), y=alt.Y("drops:Q", title="NEW_DROPs"),
    shape=alt.Shape("partial:N", title="partial day"), tooltip=["day:T", "drops", "release_drops", "partial"]),
    "Market NEW_DROPs per market-local day under the filters; partial = outage day, not a quiet day",
    int(totals["drops"].sum()))

st.subheader("By neighborhood")
by_h = cells.groupby("neighborhood", as_index=False)["drops"].sum().sort_values("drops", ascending=False)
top = by_h.head(TOP_HOODS)["neighborhood"].tolist()
hd = cells[cells["neighborhood"].isin(top)].groupby(["day", "neighborhood"], as_index=False)["drops"].sum()
charts.show(alt.Chart(hd).mark_line().encode(
    x=alt.X("day:T", title=None), y=alt.Y("drops:Q", title="NEW_DROPs"), color=alt.Color("neighborhood:N", title=None),
    tooltip=["day:T", "neighborhood", "drops"]),
    f"Daily NEW_DROPs of the {len(top)} busiest neighborhoods in range", int(hd["drops"].sum()))
st.dataframe(by_h, hide_index=True, width="stretch", key="by_neighborhood")
notes.caption("NEW_DROPs per neighborhood over the date range", int(by_h["drops"].sum()))

st.subheader("Supply compression and 14-day forward density")
sup = guard.load(data.supply, f.d1)
if sup.empty:
    inv = guard.load(data.inventory)
    if inv.empty:
        notes.empty("supply", "no bucket has a baseline yet.")
    else:
        charts.show(alt.Chart(inv).mark_bar().encode(
            x=alt.X("bucket_date:T", title="slot date"), y=alt.Y("compression:Q", title="open now vs baseline", axis=alt.Axis(format="%")),
            color=alt.Color("time_bucket:N", title=None), xOffset="time_bucket:N",
            tooltip=["bucket_date:T", "time_bucket", "open_now", "baseline_slots", alt.Tooltip("compression:Q", format="+.0%")]),
            "Open slots now vs at the bucket's baseline, per slot date (nightly supply tables not built yet)",
            int(inv["open_now"].sum()))
else:
    charts.show(alt.Chart(sup).mark_bar().encode(
        x=alt.X("bucket_date:T", title="slot date"), y=alt.Y("pct_vs_baseline:Q", title="% vs baseline"),
        color=alt.Color("time_bucket:N", title=None), xOffset="time_bucket:N",
        tooltip=["bucket_date:T", "time_bucket", "lead_days", "open_slots", "baseline_slots",
                 alt.Tooltip("pct_vs_baseline:Q", format="+.0f"), alt.Tooltip("pct_vs_week_before:Q", format="+.0f")]),
        f"Open inventory per slot date at the last snapshot of {sup['as_of'].iloc[0]} vs its baseline "
        "(negative = supply tightened)", int(sup["open_slots"].sum()))
mr = guard.load(data.market_rolling, f.d0, f.d1)
mr = mr[(mr["window_days"] == 7) & (mr["time_bucket"] == "all")] if len(mr) else mr
if mr.empty:
    notes.empty("forward density", "the nightly job has not written market_rolling for these dates.")
else:
    long = mr.melt(id_vars=["as_of"], value_vars=["forward_density"], value_name="v")
    charts.show(alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("as_of:T", title=None), y=alt.Y("v:Q", title="open / baseline, next 14 days", axis=alt.Axis(format="%")),
        tooltip=["as_of:T", alt.Tooltip("v:Q", format=".0%")]),
        "14-day forward availability density: open slots over the next 14 days / their baseline, per day",
        int(mr["forward_open_slots"].fillna(0).iloc[-1]))
    last = mr.iloc[-1]
    if pd.notna(last["compression_pct"]):
        st.metric("Forward supply vs a week earlier", f"{last['compression_pct']:+.0f}%")
