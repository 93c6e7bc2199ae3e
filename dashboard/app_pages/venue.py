"""Venue detail: time-to-close survival and histogram, when drops happen, daily trend, recent intervals."""

from __future__ import annotations

import dataclasses

import altair as alt
import pandas as pd
import streamlit as st

from analytics import fmt
from analytics.views import WEEKDAYS
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

st.title("Venue detail")
f = filters.current()
vs = guard.load(data.venues)
if vs.empty:
    notes.empty("venues", "the collector has not seen any venue yet.")
    st.stop()
labels = {int(r.venue_id): f"{r.name} · {r.neighborhood}" for r in vs.itertuples(index=False)}
ids = list(labels)
# The venue travels in the URL as its id (?venue=123): bound widgets would put the label there.
try:
    wanted: int | None = int(st.query_params.get("venue", ""))
except ValueError:
    wanted = None
vid = st.selectbox("Venue", ids, format_func=labels.__getitem__,
                   index=ids.index(wanted) if wanted in labels else None, key="venue_pick",
                   placeholder="Choose a venue (or click one in Hardest tables)")
if vid is None:
    st.info("Choose a venue above, or click a row in Hardest tables.", icon=":material/storefront:")
    st.stop()
st.query_params["venue"] = str(vid)
vid = int(vid)
fv = dataclasses.replace(f, venue_id=vid)
row = vs[vs["venue_id"] == vid].iloc[0]
st.caption(f"{row['neighborhood']} · {'$' * int(row['price_range']) if pd.notna(row['price_range']) else 'price unknown'}"
           f" · {row['cuisine'] or ''} · venue id {vid}")

surv = guard.load(data.time_to_close_curve, fv, "none")
summary = guard.load(data.venue_summary, fv, filters.min_sample())
daily = guard.load(data.venue_daily, fv, "none")
sm = summary.iloc[0] if len(summary) else None
n_km = int(sm["n"]) if sm is not None else 0
drops = int(sm["drops"]) if sm is not None else 0
c1, c2, c3, c4 = st.columns([1, 1, 1.6, 1])   # the median may read 'under 2 h 00 min'
c1.metric("Drops", f"{drops:,}")
c2.metric("Drops / observed day", f"{sm['drops_per_day']:,.1f}" if sm is not None and pd.notna(sm["drops_per_day"]) else "—")
c3.metric("Median time-to-close", fmt.duration_or_bound(sm["km_median_s"], sm["km_median_bound_s"])
          if sm is not None else fmt.DASH,
          help="From each slot's bounds between polls, coarse and fine polls combined (Turnbull's estimator); "
               "'under ...' where the polls were too far apart to place the median: half the timed tables "
               "were certainly gone by then")
c4.metric("Fully booked", f"{sm['fully_booked_share']:.0%}" if sm is not None and pd.notna(sm["fully_booked_share"]) else "—")
notes.thin(n_km, filters.min_sample(), "this venue's time-to-close")

st.subheader("How long do its tables stay open?")
if surv.empty:
    notes.empty("time-to-close", "no timed interval of this venue matches the filters.")
else:
    charts.show(display.survival_chart(surv),
                "Share still open after t, estimated from each slot's bounds between polls (Turnbull; expired "
                "slots censored); the band is what the polls alone guarantee (the estimate cannot say when "
                "within a poll gap a table closed)" + notes.resolution_over(f.d0, f.d1), n_km)
    charts.show(display.duration_hist(surv, "closed intervals"),
                "Histogram of point time-to-close (first absent minus first seen) of closed drops",
                int(surv["closed"].sum()))

st.subheader("When do its drops appear?")
hm = guard.load(data.venue_heatmap, vid, f.d0, f.d1)
if hm.empty:
    notes.empty("drop times", "no NEW_DROP of this venue was seen in the date range.")
else:
    heat = alt.Chart(hm).mark_rect().encode(
        x=alt.X("hour:O", title="hour of day (venue-local)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("weekday:O", sort=list(WEEKDAYS), title=None),
        color=alt.Color("drops:Q", title="NEW_DROPs", legend=alt.Legend(format=",d", tickMinStep=1),
                        scale=alt.Scale(domainMin=0)),
        tooltip=[alt.Tooltip("weekday:N", title="weekday"), alt.Tooltip("hour:O", title="hour"),
                 alt.Tooltip("drops:Q", title="NEW_DROPs", format=",")])
    charts.show(heat, "NEW_DROPs by weekday and hour first seen (venue-local)", int(hm["drops"].sum()))

st.subheader("Daily drops: releases and cancellations")
if daily.empty:
    notes.empty("daily drops", "no aggregated day of this venue matches the filters.")
else:
    long = display.mark_partial(daily).melt(id_vars=["day", display.DAY_KIND],
                                            value_vars=["release_drops", "cancel_drops"], var_name="kind",
                                            value_name="n")
    long["kind"] = long["kind"].map({"release_drops": "release", "cancel_drops": "cancellation"})
    stack = alt.Chart(long).mark_bar().encode(
        x=display.day_x(), y=alt.Y("n:Q", title="drops", stack=True),
        color=alt.Color("kind:N", title="drop", scale=alt.Scale(domain=["release", "cancellation"])),
        opacity=alt.Opacity(f"{display.DAY_KIND}:N", title="day",
                            scale=alt.Scale(domain=[display.COMPLETE, display.PARTIAL], range=[1.0, 0.35])),
        tooltip=[display.day_tooltip(), alt.Tooltip("kind:N", title="drop"), alt.Tooltip("n:Q", title="drops"),
                 alt.Tooltip(f"{display.DAY_KIND}:N", title="day")])
    charts.show(stack, "Drops per observed day; release = the date just entered the booking window, "
                "else a cancellation; faded: a day not observed in full", drops)

st.subheader("Recent intervals")
iv = guard.load(data.venue_intervals, vid, f.d0, f.d1, 200)
if iv.empty:
    notes.empty("intervals", f"no finished interval of this venue opened between {f.d0} and {f.d1}.")
else:
    C = display.Col
    display.table(iv, {
        "slot_date": C("Slot date", "date"), "slot_time": C("Slot time", "time"), "party_size": C("Party", "count"),
        "table_type": C("Table"), "time_bucket": C("Time bucket", "bucket"), "source": C("Source"),
        "is_release": C("Release", "flag"), "opened_hi": C("First seen (UTC)", "datetime"),
        "closed_lo": C("Last seen (UTC)", "datetime"), "closed_hi": C("First absent (UTC)", "datetime"), "end_reason": C("Ended"),
        "duration_s": C("Open for", "duration", "First absent minus first seen")}, key="venue_intervals")
notes.caption(f"Latest finished open intervals that opened {f.d0} to {f.d1}, at most 200 (UTC bounds; "
              "duration = first absent minus first seen)", len(iv))
