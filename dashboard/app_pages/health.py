"""Data health: trusted share, errors by class over time, gaps, breaker and service state."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import streamlit as st

from dashboard import data
from dashboard.components import charts, filters, guard, notes

st.title("Data health")
f = filters.current()
span = guard.load(data.poll_span)
if span["polls"] == 0:
    notes.empty("polls", "the poll ledger is empty: the collector has not polled yet.")
    st.stop()

c1, c2, c3 = st.columns(3)
c1.metric("Polls in the ledger", f"{span['polls']:,}")
c2.metric("Trusted share (all time)", f"{span['trusted'] / span['polls']:.1%}")
state = guard.load(data.service_state)
breaker = state.loc[state["key"].str.contains("breaker", case=False), "value"]
c3.metric("Circuit breaker", breaker.iloc[0] if len(breaker) else "unknown",
          help="From the collector's service_state table")

st.subheader("Trusted share per day")
days = guard.load(data.days, f.d0, f.d1)
if days.empty:
    notes.empty("daily quality", "no aggregated day in the date range (the nightly job writes day_quality).")
else:
    charts.show(alt.Chart(days).mark_bar().encode(
        x=alt.X("day:T", title=None), y=alt.Y("trusted_share:Q", title="trusted polls", axis=alt.Axis(format="%"),
                                              scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("partial:N", title="partial (outage)"),
        tooltip=["day:T", alt.Tooltip("trusted_share:Q", format=".1%"), "polls_trusted", "polls_untrusted", "max_gap_s"]),
        "Share of polls that validated, per market day; partial = untrusted share >= 5%, gaps broken by "
        f"errors >= 5% of watched time, or no poll at all for over {notes.fmt_duration(data.settings().max_gap_s)}",
        int((days["polls_trusted"] + days["polls_untrusted"]).sum()))

last = span["last_at"]
t1 = last + timedelta(seconds=1)
t0 = t1 - timedelta(hours=48)
st.subheader("Errors by class, last 48 hours of polling")
ph = guard.load(data.poll_health, t0, t1)
err = ph[ph["outcome"] != "ok"]
if err.empty:
    st.success("No untrusted poll in the 48 hours before the last poll.", icon=":material/check_circle:")
else:
    charts.show(alt.Chart(err).mark_bar().encode(
        x=alt.X("hour:T", title="hour (UTC)"), y=alt.Y("polls:Q", title="untrusted polls"),
        color=alt.Color("outcome:N", title="error class"), tooltip=["hour:T", "outcome", "polls"]),
        "Untrusted polls per hour by error class (429, timeout, schema drift, challenge, partial pages, collapse)",
        int(err["polls"].sum()))
notes.caption(f"Polls from {t0:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC", int(ph["polls"].sum()) if len(ph) else 0)

st.subheader("Gaps between trusted polls")
min_gap = max(3 * float(data.settings().bucket_cooldown_s), 900.0)
gaps = guard.load(data.poll_gaps, t0, t1, min_gap)
if gaps.empty:
    st.success(f"No (bucket, party size) went more than {min_gap / 60:.0f} min without a trusted poll.",
               icon=":material/check_circle:")
else:
    st.dataframe(gaps, hide_index=True, width="stretch", key="gaps")
notes.caption(f"Stretches longer than {min_gap / 60:.0f} min between two trusted polls of one bucket and party "
              "size (no state moved there), longest first", len(gaps))

st.subheader("Service state")
if state.empty:
    notes.empty("service state", "the collector service has not published its state (breaker, nightly runs).")
else:
    st.dataframe(state, hide_index=True, width="stretch", key="service_state")
notes.caption("Key/value state published by the collector service (UTC times)", len(state))
