"""Drop durations: time-to-close distributions split by time bucket, party size, neighborhood, price."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data
from dashboard.components import charts, filters, guard, notes

SPLIT_LABELS = {"time_bucket": "Prime / off-peak", "party_size": "Party size",
                "neighborhood": "Neighborhood", "price_range": "Price range"}
MAX_GROUPS = 8

st.title("Drop durations")
f = filters.current()
min_n = filters.min_sample()
split = st.segmented_control("Split by", list(SPLIT_LABELS), format_func=SPLIT_LABELS.__getitem__,
                             default="time_bucket", key="split", bind="query-params") or "time_bucket"
h = guard.load(data.hist, f, split)
if h.empty:
    notes.empty("durations", "no timed interval matches these filters in the aggregated days.")
    st.stop()

sizes = h.groupby("grp")[["n_closed", "n_censored"]].sum()
sizes["n"] = sizes["n_closed"] + sizes["n_censored"]
keep = sizes.sort_values("n", ascending=False).head(MAX_GROUPS).index
dropped = len(sizes) - len(keep)
h = h[h["grp"].isin(keep)]
surv = guard.load(data.time_to_close_curve, f, split)
surv = surv[surv["grp"].isin(keep)]
ttc = guard.load(data.time_to_close, f, split)
summary_df = ttc[ttc["grp"].isin(keep)].rename(columns={"grp": "group"}).sort_values("n", ascending=False)
summary_df["thin"] = summary_df["n"] < min_n
st.dataframe(summary_df, hide_index=True, width="stretch", key="durations_summary",
             column_config={"km_median_s": st.column_config.NumberColumn("KM median (s)", format="%.0f"),
                            "km_median_lo_s": st.column_config.NumberColumn("95% low (s)", format="%.0f"),
                            "km_median_hi_s": st.column_config.NumberColumn("95% high (s)", format="%.0f"),
                            "median_close_s": st.column_config.NumberColumn("Median of closed (s)", format="%.0f")})
notes.caption(f"Per {SPLIT_LABELS[split].lower()} group: Kaplan-Meier median (censored slots counted) and the "
              "median of closed drops alone (both interpolated in the log bins); thin groups flagged"
              + notes.resolution_over(f.d0, f.d1)
              + (f"; {dropped} smaller group(s) left out" if dropped else ""), int(sizes.loc[keep, "n"].sum()))
thin_groups = summary_df.loc[summary_df["thin"], "group"].tolist()
if thin_groups:
    st.warning(f"Thin groups (fewer than {min_n} intervals): {', '.join(map(str, thin_groups))}.",
               icon=":material/warning:")

color = alt.Color("grp:N", title=SPLIT_LABELS[split])
x = alt.X("hi_s:Q", scale=alt.Scale(type="log"), title="seconds open (log)")
c1, c2 = st.columns(2)
with c1:
    charts.show(alt.Chart(surv).mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("survival:Q", title="share still open", scale=alt.Scale(domain=[0, 1])), color=color,
        tooltip=["grp", "hi_s", alt.Tooltip("survival:Q", format=".2f")]),
        "Kaplan-Meier survival: share of drops still open after t (expired slots censored)",
        int(sizes.loc[keep, "n"].sum()))
with c2:
    charts.show(alt.Chart(surv).mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("cdf:Q", title="share closed by t", scale=alt.Scale(domain=[0, 1])), color=color,
        tooltip=["grp", "hi_s", alt.Tooltip("cdf:Q", format=".2f")]),
        "ECDF of the point time-to-close of closed drops only", int(sizes.loc[keep, "n_closed"].sum()))
charts.show(alt.Chart(surv).mark_bar(opacity=0.7).encode(
    x=alt.X("lo_s:Q", bin="binned", scale=alt.Scale(type="log"), title="seconds open (log bins)"), x2="hi_s:Q",
    y=alt.Y("closed:Q", title="closed drops", stack=None), color=color, tooltip=["grp", "lo_s", "hi_s", "closed"]),
    "Histogram of time-to-close of closed drops, 20 log bins per decade", int(sizes.loc[keep, "n_closed"].sum()))
