"""Drop durations: time-to-close distributions split by time bucket, party size, neighborhood, price."""

from __future__ import annotations

import altair as alt
import streamlit as st

from analytics import fmt
from dashboard import data
from dashboard.components import charts, display, filters, guard, notes

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
C = display.Col
unresolved = summary_df["km_median_bound_s"].notna()
summary_df = summary_df.assign(
    group_name=summary_df["group"],
    median_shown=[fmt.duration_or_bound(m, b) for m, b in zip(summary_df["km_median_s"], summary_df["km_median_bound_s"],
                                                               strict=True)],
    km_median_lo_s=summary_df["km_median_lo_s"].where(~unresolved),
    km_median_hi_s=summary_df["km_median_hi_s"].where(~unresolved))
display.table(summary_df, {
    "group": C("", "hidden"), "group_name": C(SPLIT_LABELS[split], "bucket" if split == "time_bucket" else "text"),
    "median_shown": C("Median time-to-close", "text", "From each slot's bounds between polls (Turnbull); censored (expired) slots "
                                                      "count; 'under ...' where the polls were too far apart to resolve it"),
    "km_median_lo_s": C("95% low", "duration"), "km_median_hi_s": C("95% high", "duration"),
    "median_close_s": C("", "hidden"),        # point durations read the poll gap: never shown as a figure
    "n_closed": C("Closed", "count"), "n_censored": C("Censored", "count", "Expired or still open: lasted at least this long"),
    "n": C("n", "count"), "thin": C("Thin sample", "flag")}, key="durations_summary")
notes.caption(f"Per {SPLIT_LABELS[split].lower()} group: median from each slot's bounds between polls (censored "
              "slots counted; 'under ...' where the polls cannot place it); thin groups flagged"
              + notes.resolution_over(f.d0, f.d1)
              + (f"; {dropped} smaller group(s) left out" if dropped else ""), int(sizes.loc[keep, "n"].sum()))
thin_groups = summary_df.loc[summary_df["thin"], "group"].tolist()
if thin_groups:
    st.warning(f"Thin groups (fewer than {min_n} intervals): {', '.join(map(str, thin_groups))}.",
               icon=":material/warning:")

surv = surv.assign(grp=surv["grp"].map(lambda g: display.TIME_BUCKETS.get(g, g)) if split == "time_bucket"
                   else surv["grp"])
color = alt.Color("grp:N", title=SPLIT_LABELS[split])
x = display.duration_x("hi_s", "time open (log scale)")
c1, c2 = st.columns(2)
with c1:
    charts.show(display.survival_chart(surv, "grp", SPLIT_LABELS[split]),
                "Share of drops still open after t, from the slots' bounds between polls (Turnbull; expired "
                "slots censored); bands: what the polls alone guarantee", int(sizes.loc[keep, "n"].sum()))
with c2:
    charts.show(alt.Chart(surv).mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("cdf:Q", title="share closed by t", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=color, tooltip=[alt.Tooltip("grp:N", title=SPLIT_LABELS[split]), alt.Tooltip("hi_s:Q", title="seconds open"),
                              alt.Tooltip("cdf:Q", title="closed by then", format=".1%")]),
        "ECDF of the point time-to-close of closed drops only", int(sizes.loc[keep, "n_closed"].sum()))
charts.show(display.duration_hist(surv, "closed drops", "grp", SPLIT_LABELS[split]),
            "Histogram of time-to-close of closed drops, 20 log bins per decade; groups overlap",
            int(sizes.loc[keep, "n_closed"].sum()))
