"""Market pulse (home): what just opened, what is still open, and today against a typical day."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from analytics import views
from dashboard import data
from dashboard.components import charts, filters, guard, notes

ROWS = 500   # rows per table; the metrics above count every open slot

st.title("Market pulse")
f = filters.current()
as_of = guard.load(data.as_of)
if as_of is None:
    notes.empty("live availability", "the collector has not completed a trusted poll yet.")
    st.stop()
now_local = data.local_now(as_of)
assert now_local is not None

window = st.slider("“Just opened” means first seen in the last … minutes", 5, 120, 15, step=5,
                   key="window", bind="query-params")
slots, counts = guard.load(data.open_now, f, as_of, window * 60, ROWS)
cols = ["venue", "neighborhood", "price_range", "slot_date", "slot_time", "party_size", "time_bucket",
        "age_min", "opened_at", "venue_id"]
slots = slots.assign(age_min=(slots["age_s"] / 60.0).round(1))
just = slots[slots["cls"] == "just"][cols]
still = slots[slots["cls"] == "still"][cols]

c1, c2, c3 = st.columns(3)
c1.metric("Just opened", f"{counts['just']:,}", help=f"NEW_DROP slots first seen in the last {window} min and still open")
c2.metric("Still open (older drops)", f"{counts['still']:,}")
c3.metric("Open since baseline", f"{counts['baseline']:,}",
          help="Slots open since the bucket's calibration polls, or reopened (not drops)")


def shown_of(cls: str) -> str:
    n = counts[cls]
    return f"; the {ROWS:,} newest of {n:,} shown" if n > ROWS else ""


colcfg = {
    "venue": st.column_config.TextColumn("Venue"),
    "neighborhood": st.column_config.TextColumn("Neighborhood"),
    "price_range": st.column_config.NumberColumn("Price", format="%d"),
    "slot_date": st.column_config.DateColumn("Date", format="ddd YYYY-MM-DD"),
    "slot_time": st.column_config.TimeColumn("Time", format="HH:mm"),
    "party_size": st.column_config.NumberColumn("Party", format="%d"),
    "time_bucket": st.column_config.TextColumn("Time bucket"),
    "age_min": st.column_config.NumberColumn("Age (min)", format="%.1f"),
    "opened_at": st.column_config.DatetimeColumn("First seen (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "venue_id": None,
}
st.subheader("Just opened")
if just.empty:
    notes.empty("fresh drops", f"nothing matching the filters opened in the {window} minutes before "
                f"{now_local:%H:%M}. Widen the window or the filters.")
else:
    st.dataframe(just, hide_index=True, width="stretch", column_config=colcfg, key="just_opened")
notes.caption(f"NEW_DROP slots open now and first seen in the last {window} min; age = data time minus "
              f"first trusted poll that saw the slot{shown_of('just')}", counts["just"])

st.subheader("Still open")
if still.empty:
    notes.empty("older open drops", "every open drop matching the filters is fresh, or none is open.")
else:
    st.dataframe(still, hide_index=True, width="stretch", column_config=colcfg,
                 key="still_open")
notes.caption(f"NEW_DROP slots still open at the last trusted poll and older than the window{shown_of('still')}",
              counts["still"])

st.subheader("Today against a typical day")
today = now_local.date()
series = guard.load(data.daily_drops, today - timedelta(days=28), today)
tv = views.today_vs_typical(series, today)
c1, c2 = st.columns(2)
c1.metric(f"Drops today so far (to {now_local:%H:%M})", f"{tv['today']:,}")
typ = tv["typical"]
c2.metric("Typical full day (median)", "—" if typ is None else f"{typ:,.0f}",
          help=f"median over the {tv['n_days']} complete aggregated days among the last 28")
if tv["n_days"] == 0 and tv["today"] == 0:
    notes.empty("daily history", "no NEW_DROP events in the last 28 days.")
else:
    s = series.assign(day=pd.to_datetime(series["day"]), is_today=lambda d: d["day"] == pd.Timestamp(today))
    bars = alt.Chart(s).mark_bar().encode(
        x=alt.X("day:T", title=None),
        y=alt.Y("drops:Q", title="NEW_DROPs"),
        color=alt.condition("datum.is_today", alt.value("#D55E00"), alt.value("#0072B2")),
        tooltip=["day:T", "drops:Q"])
    layers: alt.Chart | alt.LayerChart = bars
    if typ is not None:
        layers = bars + alt.Chart(pd.DataFrame({"typical": [typ]})).mark_rule(strokeDash=[4, 3]).encode(y="typical:Q")
    charts.show(layers, "Market-wide NEW_DROPs per venue-local day, last 28 days (orange: today, partial); "
                "dashed: median of earlier days", int(s["drops"].sum()))
