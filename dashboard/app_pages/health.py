"""Data health: trusted share, errors by class over time, gaps, breaker and service state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from analytics import fmt
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

C = display.Col
STATE_LABELS = {"breaker": "Circuit breaker", "health": "Collector", "nightly_last_day": "Last nightly job"}


def _state_text(key: str, v: Any) -> str:
    """One readable line for a service_state value (the collector stores JSON objects)."""
    if not isinstance(v, dict):
        return f"aggregated the day {v}" if key == "nightly_last_day" else str(v)
    if key == "breaker" or "breaker_state" in v:
        return (f"{str(v.get('breaker_state', 'unknown')).capitalize()} · {v.get('consecutive_failures', 0)} "
                f"consecutive failures · {fmt.count(v.get('requests_last_minute'))} requests and "
                f"{fmt.count(v.get('retries_last_minute'))} retries in the last minute · last poll "
                f"{v.get('last_outcome', 'unknown')}" + (f" ({v['last_detail']})" if v.get("last_detail") else ""))
    if key == "health":
        snap = v.get("snapshot") or {}
        return (f"{'Running' if v.get('ok') else 'Stopped'} since {str(v.get('started_at', '?')).replace('T', ' ')} UTC · "
                f"{fmt.count(v.get('polls_last_hour'))} polls in the last hour, "
                f"{fmt.share(v.get('untrusted_share_last_hour'))} untrusted · writer queue "
                f"{fmt.count(v.get('writer_queue'))}"
                + (f" · snapshot published {str(snap['published_at']).replace('T', ' ')} UTC" if snap.get("published_at") else ""))
    return " · ".join(f"{k.replace('_', ' ')} {x}" for k, x in v.items() if not isinstance(x, dict | list))


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


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
breaker = state.loc[state["key"] == "breaker", "value"]
b = _parse(breaker.iloc[0]) if len(breaker) else {}
c3.metric("Circuit breaker", str(b.get("breaker_state", "unknown")).capitalize() if isinstance(b, dict) else "Unknown",
          help="Closed: polls go out normally. Open: the collector paused polling after repeated upstream "
               "failures and sends one trial poll after the reset time. From the collector's published state.")

st.subheader("Trusted share per day")
days = guard.load(data.days, f.d0, f.d1)
if days.empty:
    notes.empty("daily quality", "no aggregated day in the date range (the nightly job writes day_quality).")
else:
    shown_days = display.mark_partial(days).assign(longest_gap=lambda d: d["max_gap_s"].map(fmt.duration))
    charts.show(display.day_bars(
        shown_days, alt.Y("trusted_share:Q", title="trusted polls", axis=alt.Axis(format="%"),
                          scale=alt.Scale(domain=[0, 1])),
        [alt.Tooltip("trusted_share:Q", title="trusted", format=".1%"),
         alt.Tooltip("polls_trusted:Q", title="trusted polls", format=","),
         alt.Tooltip("polls_untrusted:Q", title="untrusted polls", format=","),
         alt.Tooltip("longest_gap:N", title="longest gap")]),
        "Share of polls that validated, per market day; grey = partial: collection began or stopped that day, "
        f"untrusted share >= 5%, gaps broken by errors >= 5% of watched time, or no poll for over "
        f"{notes.fmt_duration(data.settings().max_gap_s)}",
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
        x=alt.X("hour:O", timeUnit="utcyearmonthdatehours", title="hour (UTC)",
                axis=alt.Axis(labelExpr="utcFormat(datum.value, '%a %H:00')", labelOverlap="greedy")),
        y=alt.Y("polls:Q", title="untrusted polls"), color=alt.Color("outcome:N", title="error class"),
        tooltip=[alt.Tooltip("hour:T", timeUnit="utcyearmonthdatehours", title="hour (UTC)"),
                 alt.Tooltip("outcome:N", title="error class"), alt.Tooltip("polls:Q", title="polls")]),
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
    display.table(gaps, {"bucket_id": C("Bucket (date_time)"), "party_size": C("Party", "count"),
                         "gap_from": C("From (UTC)", "datetime"), "gap_to": C("To (UTC)", "datetime"),
                         "gap_s": C("Gap", "duration")}, key="gaps")
notes.caption(f"Stretches longer than {min_gap / 60:.0f} min between two trusted polls of one bucket and party "
              "size (no state moved there), longest first", len(gaps))

st.subheader("Service state")
if state.empty:
    notes.empty("service state", "the collector service has not published its state (breaker, nightly runs).")
else:
    readable = pd.DataFrame({
        "what": state["key"].map(lambda k: STATE_LABELS.get(k, k.replace("_", " ").capitalize())),
        "state": [_state_text(k, _parse(v)) for k, v in zip(state["key"], state["value"], strict=True)],
        "updated_at": state["updated_at"]})
    display.table(readable, {"what": C("What"), "state": C("State"), "updated_at": C("Updated (UTC)", "datetime")},
                  key="service_state")
notes.caption("State the collector service publishes every 30 s: its breaker, its own health, the last "
              "nightly job (UTC times)", len(state))
