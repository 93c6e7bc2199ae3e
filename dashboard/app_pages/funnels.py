"""Conversion funnels: alert -> open -> tap -> booking, times, too-late share, breakdowns, goal match."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analytics import fmt
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

C = display.Col
STEP_NAMES = {"alert_sent": "Alert sent", "alert_opened": "Alert opened", "tap_to_reserve": "Tapped to reserve",
              "booking_confirmed": "Booking confirmed"}
SPAN_NAMES = {"sent_to_open": "Sent to opened", "sent_to_tap": "Sent to tapped", "sent_to_book": "Sent to booked"}
RATES = {"open_rate": C("Opened", "share"), "tap_rate": C("Tapped", "share"), "book_rate": C("Booked", "share")}
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
st.caption(f"Alerts first sent {f.d0} to {f.d1} (UTC days); a tap counts within {fmt.duration(s.tap_window_s)} "
           f"and a booking within {fmt.duration(s.book_window_s)} of the alert. Neighborhood and weekday filters do "
           "not apply here.")
notes.thin(n_sent, min_n, "this funnel")

st.subheader("The alert funnel")
named = steps.assign(step=steps["step"].map(lambda x: STEP_NAMES.get(x, x)))
charts.show(alt.Chart(named).mark_bar().encode(
    x=alt.X("n:Q", title="alerts reaching the step"), y=alt.Y("step:N", sort=list(named["step"]), title=None),
    tooltip=[alt.Tooltip("step:N", title="step"), alt.Tooltip("n:Q", title="alerts", format=","),
             alt.Tooltip("conversion_from_prev:Q", title="from the previous step", format=".1%"),
             alt.Tooltip("conversion_from_sent:Q", title="from alert sent", format=".1%")]),
    "Alerts reaching each step in order within the windows; one alert = one unit", n_sent)
display.table(named, {"step": C("Step"), "n": C("Alerts", "count"), "n_prev": C("At the previous step", "count"),
                      "conversion_from_prev": C("Conversion from the previous step", "share"),
                      "conversion_from_sent": C("Conversion from alert sent", "share"),
                      "drop_off": C("Dropped off", "count"), "drop_off_share": C("Drop-off", "share")},
              key="funnel_steps")
notes.caption("Step conversion from the previous step and from the alert; drop-off per step", n_sent)

c1, c2 = st.columns(2)
with c1:
    st.subheader("Time to act")
    times = rep["times"].assign(span=rep["times"]["span"].map(lambda x: SPAN_NAMES.get(x, x)))
    display.table(times, {"span": C("From alert sent to"), "n": C("Alerts", "count"), "median_s": C("Median", "duration"),
                          "p90_s": C("90th percentile", "duration"), "mean_s": C("Mean", "duration")},
                  key="funnel_times")
    notes.caption("Time from the alert to each later step among alerts that got there",
                  int(rep["times"]["n"].max()) if len(rep["times"]) else 0)
with c2:
    st.subheader("Too late")
    display.table(rep["too_late"], {
        "n_alerts": C("Alerts", "count"), "n_acted": C("Opened or tapped", "count"),
        "n_acted_too_late": C("After the slot closed", "count"),
        "too_late_share": C("Too late", "share", "Of the alerts acted on"),
        "n_acted_possibly_late": C("Possibly too late", "count",
                                   "Acted between the last poll with the slot and the first without it")},
        key="funnel_too_late")
    notes.caption("Alerts opened or tapped after their slot had already closed (joined to the slot interval)", n_sent)

st.subheader("Breakdowns")
dim = st.segmented_control("Break down by", list(DIM_LABELS), format_func=DIM_LABELS.__getitem__,
                           default="neighborhood", key="fdim", bind="query-params") or "neighborhood"
bd = rep[f"by_{dim}"]
if bd.empty:
    notes.empty("breakdown", "no alert carries this attribute (scarcity deciles need the nightly scores).")
else:
    if dim == "time_bucket":
        bd = bd.assign(value=bd["value"].map(lambda x: display.TIME_BUCKETS.get(str(x), x)))
    display.table(bd, {"value": C(DIM_LABELS[dim]), "n_sent": C("Alerts sent", "count"),
                       "n_opened": C("Opened", "count"), "n_tapped": C("Tapped", "count"),
                       "n_booked": C("Booked", "count"), **{k: C(f"{c.label} (share)", "share") for k, c in RATES.items()},
                       "median_sent_to_book_s": C("Median time to book", "duration"),
                       "scarcity_score": C("Mean scarcity", "number", "Scarcity score (0-100) of the alerted venues", 0),
                       "thin": C("Thin sample", "flag")}, key="funnel_breakdown")
    notes.caption(f"Conversion by {DIM_LABELS[dim].lower()}, attributed when the alert was sent; thin rows flagged",
                  int(bd["n"].sum()) if "n" in bd else n_sent)

st.subheader("Goal match")
g = rep.get("goals", pd.DataFrame())
if g is None or g.empty:
    notes.empty("goal matches", "no user goals recorded yet (POST /v1/goals).")
else:
    display.table(g, {"n_drops": C("Drops", "count"), "n_matched": C("Matching a goal", "count"),
                      "match_rate": C("Match rate", "share"), "n_alerts_matched": C("Alerts on matches", "count"),
                      "n_booked_matched": C("Booked", "count"), "conversion_matched": C("Conversion", "share"),
                      "n_alerts_unmatched": C("Alerts on other drops", "count"),
                      "n_booked_unmatched": C("Booked (other)", "count"),
                      "conversion_unmatched": C("Conversion (other)", "share"),
                      "thin": C("Thin sample", "flag")}, key="funnel_goals")
    notes.caption("Drops matching a user's goal window and how their alerts converted vs unmatched drops",
                  int(g["n"].iloc[0]) if "n" in g else None)
