"""Conversion funnels: alert -> open -> tap -> booking, times, too-late share, breakdowns, goal match."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.components import charts, filters, guard, notes

DIM_LABELS = {"venue": "Venue", "neighborhood": "Neighborhood", "time_bucket": "Time bucket",
              "party_size": "Party size", "scarcity_decile": "Scarcity decile"}

st.title("Conversion funnels")
f = filters.current()
min_n = filters.min_sample()
s = data.settings()
party = f.parties[0] if len(f.parties) == 1 else None
rep = guard.load(data.funnel, f.d0, f.d1, int(s.tap_window_s), int(s.book_window_s), min_n, f.time_bucket, party)
if rep is None:
    notes.empty("funnels", "this database has no alert_events table yet; the collector's tracking "
                "endpoint creates it (POST /v1/events).")
    st.stop()
steps = rep["steps"]
n_sent = int(steps.loc[steps["step"] == "alert_sent", "n"].sum()) if len(steps) else 0
if n_sent == 0:
    notes.empty("alerts", f"no alert was sent between {f.d0} and {f.d1} (UTC days) for these filters. "
                "Clients report alerts through the tracking endpoint.")
    st.stop()
st.caption(f"Alerts first sent {f.d0} to {f.d1} (UTC days); tap window {s.tap_window_s // 60} min, booking "
           f"window {s.book_window_s // 3600} h after alert_sent. Neighborhood and weekday filters do not apply here.")
notes.thin(n_sent, min_n, "this funnel")

st.subheader("The alert funnel")
charts.show(alt.Chart(steps).mark_bar().encode(
    x=alt.X("n:Q", title="alerts reaching the step"), y=alt.Y("step:N", sort=list(steps["step"]), title=None),
    tooltip=["step", "n", alt.Tooltip("conversion_from_prev:Q", format=".1%"),
             alt.Tooltip("conversion_from_sent:Q", format=".1%")]),
    "Alerts reaching each step in order within the windows; one alert = one unit", n_sent)
st.dataframe(steps, hide_index=True, width="stretch", key="funnel_steps")
notes.caption("Step conversion from the previous step and from alert_sent; drop-off per step", n_sent)

c1, c2 = st.columns(2)
with c1:
    st.subheader("Time to act")
    st.dataframe(rep["times"], hide_index=True, width="stretch", key="funnel_times")
    notes.caption("Seconds from alert_sent to each later step (median, p90, mean) among alerts that got there",
                  int(rep["times"]["n"].max()) if len(rep["times"]) else 0)
with c2:
    st.subheader("Too late")
    st.dataframe(rep["too_late"], hide_index=True, width="stretch", key="funnel_too_late")
    notes.caption("Alerts opened or tapped after their slot had already closed (joined to the slot interval)", n_sent)

st.subheader("Breakdowns")
dim = st.segmented_control("Break down by", list(DIM_LABELS), format_func=DIM_LABELS.__getitem__,
                           default="neighborhood", key="fdim", bind="query-params") or "neighborhood"
bd = rep[f"by_{dim}"]
if bd.empty:
    notes.empty("breakdown", "no alert carries this attribute (scarcity deciles need the nightly scores).")
else:
    st.dataframe(bd, hide_index=True, width="stretch", key="funnel_breakdown")
    notes.caption(f"Conversion by {DIM_LABELS[dim].lower()}, attributed at alert_sent; thin rows flagged",
                  int(bd["n"].sum()) if "n" in bd else n_sent)

st.subheader("Goal match")
g = rep.get("goals", pd.DataFrame())
if g is None or g.empty:
    notes.empty("goal matches", "no user goals recorded yet (POST /v1/goals).")
else:
    st.dataframe(g, hide_index=True, width="stretch", key="funnel_goals")
    notes.caption("Drops matching a user's goal window and how their alerts converted vs unmatched drops",
                  int(g["n"].iloc[0]) if "n" in g else None)
