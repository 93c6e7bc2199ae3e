"""Market pulse (home): what just opened, what is still open, and today against a typical day."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from analytics import views
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

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
slots = slots.assign(age_min=slots["age_s"] / 60.0)
just = slots[slots["cls"] == "just"]
still = slots[slots["cls"] == "still"]

c1, c2, c3 = st.columns(3)
c1.metric("Just opened", f"{counts['just']:,}", help=f"NEW_DROP slots first seen in the last {window} min and still open")
c2.metric("Still open (older drops)", f"{counts['still']:,}")
c3.metric("Open since baseline", f"{counts['baseline']:,}",
          help="Slots open since the bucket's calibration polls, or reopened (not drops)")


def shown_of(cls: str) -> str:
    n = counts[cls]
    return f"; the {ROWS:,} newest of {n:,} shown" if n > ROWS else ""


C = display.Col
colcfg = {"venue": C("Venue"), "neighborhood": C("Neighborhood"), "price_range": C("Price", "price"),
          "slot_date": C("Date", "date"), "slot_time": C("Time", "time"), "party_size": C("Party", "count"),
          "time_bucket": C("Time bucket", "bucket"),
          "age_min": C("Open for", "minutes", "Data time minus the first trusted poll that saw the slot", 0),
          "opened_at": C("First seen (UTC)", "datetime")}
st.subheader("Just opened")
if just.empty:
    notes.empty("fresh drops", f"nothing matching the filters opened in the {window} minutes before "
                f"{now_local:%H:%M}. Widen the window or the filters.")
else:
    display.table(just, colcfg, key="just_opened")
notes.caption(f"NEW_DROP slots open now and first seen in the last {window} min; age = data time minus "
              f"first trusted poll that saw the slot{shown_of('just')}", counts["just"])

st.subheader("Still open")
if still.empty:
    notes.empty("older open drops", "every open drop matching the filters is fresh, or none is open.")
else:
    display.table(still, colcfg, key="still_open")
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
    s = display.mark_partial(series)
    bars = display.day_bars(s, alt.Y("drops:Q", title="NEW_DROPs"),
                            [alt.Tooltip("drops:Q", title="NEW_DROPs", format=",")])
    layers: alt.Chart | alt.LayerChart = bars
    if typ is not None:
        layers = bars + alt.Chart(pd.DataFrame({"typical": [typ]})).mark_rule(strokeDash=[4, 3]).encode(
            y="typical:Q", tooltip=[alt.Tooltip("typical:Q", title="typical full day", format=",.0f")])
    charts.show(layers, "Market-wide NEW_DROPs per venue-local day, last 28 days; grey: a day not observed in "
                "full (collection began or stopped, an outage, or today so far); dashed: the typical full day, "
                "the median of earlier aggregated days", int(s["drops"].sum()))
