"""Hardest tables: the scarcity ranking for the filtered slice, thin samples flagged, CSV export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import fmt
from analytics.scores import SCARCITY_FORMULA, SCARCITY_NOTE
from dashboard import data
from dashboard.components import export, filters, guard, notes

st.title("Hardest tables")
st.info(SCARCITY_FORMULA + " " + SCARCITY_NOTE, icon=":material/functions:")
f = filters.current()
min_n = filters.min_sample()

c1, c2 = st.columns([3, 1])
q = c1.text_input("Search venues by name", key="q", bind="query-params", placeholder="e.g. Velvet")
show_thin = c2.toggle("Show thin rows", value=False, key="thin", bind="query-params",
                      help=f"Venues with fewer than {min_n} timed intervals get no score and are hidden by default")

df = guard.load(data.ranking, f, min_n)
if df.empty:
    notes.empty("ranking", "no aggregated venue-days match these filters. The nightly job aggregates "
                "each finished day; widen the dates or the filters.")
    st.stop()

if q:
    df = df[df["venue"].str.contains(q, case=False, regex=False)]
n_thin = int(df["thin"].sum())
shown = df if show_thin else df[~df["thin"]]
shown = shown.sort_values(["scarcity_score", "venue_id"], ascending=[False, True], na_position="last")


def _arrow(p: float | None) -> str:
    if p is None or pd.isna(p):
        return "–"
    return ("▲ " if p >= 10 else "▼ " if p <= -10 else "► ") + f"{p:+.0f}%"


table = pd.DataFrame({
    "rank": range(1, len(shown) + 1),
    "venue": shown["venue"].to_numpy(),
    "neighborhood": shown["neighborhood"].to_numpy(),
    "price": shown["price_range"].map(lambda p: "$" * int(p) if pd.notna(p) else "").to_numpy(),
    "scarcity_score": shown["scarcity_score"].round(1).to_numpy(),
    "drops_per_day": shown["drops_per_day"].round(2).to_numpy(),
    # a median the polls cannot resolve reads as the bound it is ("under 2 h 00 min"), and its
    # interval, which would look precise, is left blank
    "median_close": [fmt.duration_or_bound(m, b) for m, b in zip(shown["km_median_s"], shown["km_median_bound_s"],
                                                                 strict=True)],
    "median_close_s": shown["km_median_s"].to_numpy(),
    "median_lo_min": (shown["km_median_lo_s"].where(shown["km_median_bound_s"].isna()) / 60).round(1).to_numpy(),
    "median_hi_min": (shown["km_median_hi_s"].where(shown["km_median_bound_s"].isna()) / 60).round(1).to_numpy(),
    "median_lo": (shown["km_median_lo_s"].where(shown["km_median_bound_s"].isna())).map(fmt.duration).to_numpy(),
    "median_hi": (shown["km_median_hi_s"].where(shown["km_median_bound_s"].isna())).map(fmt.duration).to_numpy(),
    "fully_booked_pct": (shown["fully_booked_share"] * 100).round(1).to_numpy(),
    "drops_trend": shown["trend_pct"].map(_arrow).to_numpy(),
    "drops": shown["drops"].to_numpy(),
    "n": shown["n"].to_numpy(),
    "thin": shown["thin"].to_numpy(),
    "venue_id": shown["venue_id"].to_numpy(),
})

st.caption("Click a row to open the venue.")
event = st.dataframe(
    table, hide_index=True, width="stretch", key="ranking_table", on_select="rerun",
    selection_mode="single-row",
    column_config={
        "rank": st.column_config.NumberColumn("#", width="small"),
        "venue": "Venue", "neighborhood": "Neighborhood", "price": "Price",
        "scarcity_score": st.column_config.ProgressColumn("Scarcity", min_value=0, max_value=100, format="%.0f"),
        "drops_per_day": st.column_config.NumberColumn("Drops / day", format="%.2f"),
        "median_close": st.column_config.TextColumn(
            "Median time-to-close", help="From each slot's bounds between polls, coarse and fine polls combined "
                                         "(Turnbull's estimator); 'under ...' where the polls were too far apart "
                                         "to place it: half the timed tables were certainly gone by then"),
        "median_lo": st.column_config.TextColumn("95% low"), "median_hi": st.column_config.TextColumn("95% high"),
        "median_lo_min": None, "median_hi_min": None,
        "fully_booked_pct": st.column_config.NumberColumn("Fully booked", format="%.1f%%",
                                                          help="Share of observed prime time with nothing open"),
        "drops_trend": st.column_config.TextColumn("Drops trend (7 d vs 7 before)"),
        "drops": st.column_config.NumberColumn("Drops", format="localized"),
        "n": st.column_config.NumberColumn("n", format="localized",
                                           help="timed intervals behind the median (closed + censored)"),
        "thin": st.column_config.CheckboxColumn("Thin sample"),
        "venue_id": None, "median_close_s": None,
    })
rows = event.selection.rows if event is not None else []
if rows:
    picked = int(table.iloc[rows[0]]["venue_id"])
    st.session_state.pop("venue_pick", None)
    st.switch_page("app_pages/venue.py", query_params={"venue": str(picked)})

notes.caption(f"Venues ranked by scarcity over {f.d0} to {f.d1}; median time-to-close is estimated from each "
              "slot's bounds between polls (Turnbull), expired slots censored, with its 95% interval"
              f"{notes.resolution_over(f.d0, f.d1)}; "
              f"{n_thin} thin venue(s) {'shown' if show_thin else 'hidden'}", len(table), "venues")
export.download(table.drop(columns=["venue_id"]), f"tablepulse-hardest-{f.d0}-{f.d1}.csv",
                ["Tablepulse: hardest tables", *filters.describe(f), f"minimum sample {min_n}",
                 f"name search {q!r}" if q else "no name search",
                 "thin rows shown" if show_thin else "thin rows hidden", SCARCITY_FORMULA],
                key="hardest_csv")
