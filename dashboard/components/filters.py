"""The shared filter bar (sidebar), bound to the URL query string so every view is a shareable link.

Rendered once per run by the entrypoint; pages read the result with ``current()``. Widget values
are turned into a frozen ``Filters`` here and nowhere else (cached loaders never read widgets).
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from analytics.views import WEEKDAYS, Filters
from dashboard import data

PRICES = ["$", "$$", "$$$", "$$$$"]
TIME_CHOICES = {"all": "All times", "prime": "Prime", "off_peak": "Off-peak"}
_STATE = "_tp_filters"
_MIN_N = "_tp_min_n"


def _date_pair(value: object, fallback: tuple[date, date]) -> tuple[date, date]:
    if isinstance(value, tuple | list):
        vals = [v for v in value if isinstance(v, date)]
        if len(vals) == 2:
            return (min(vals), max(vals))
        if len(vals) == 1:
            return (vals[0], vals[0])
    if isinstance(value, date):
        return (value, value)
    return fallback


def render() -> Filters:
    """Draw the sidebar filters and store the resulting Filters for this run."""
    s = data.settings()
    try:
        d_default = data.default_range()
        opts = data.filter_options()
        hoods = sorted(opts["neighborhood"].unique().tolist())
    except data.NoDatabase:
        d_default = data.default_range_without_data()
        hoods = []
    sb = st.sidebar
    sb.header("Filters")
    raw = sb.date_input("Dates (venue-local, when the drop was seen)", value=d_default, key="dates",
                        bind="query-params", format="YYYY-MM-DD")
    d0, d1 = _date_pair(raw, d_default)
    hood = sb.multiselect("Neighborhood", hoods, key="hood", bind="query-params", placeholder="All")
    price = sb.multiselect("Price range", PRICES, key="price", bind="query-params", placeholder="All")
    tb = sb.segmented_control("Time bucket", list(TIME_CHOICES), format_func=TIME_CHOICES.__getitem__,
                              default="all", key="tb", bind="query-params")
    party = sb.multiselect("Party size", [str(p) for p in s.party_sizes], key="party",
                           bind="query-params", placeholder="All")
    dow = sb.multiselect("Weekday (day the drop was seen)", list(WEEKDAYS), key="dow", bind="query-params",
                         placeholder="All")
    min_n = sb.number_input("Minimum sample (rows below are flagged thin)", min_value=1, max_value=10000,
                            value=int(s.min_sample), step=1, key="min_n", bind="query-params")
    f = Filters(d0=d0, d1=d1, hoods=tuple(sorted(hood)),
                prices=tuple(sorted(PRICES.index(p) + 1 for p in price)),
                time_bucket=None if tb in (None, "all") else str(tb),
                parties=tuple(sorted(int(p) for p in party)),
                dows=tuple(sorted(WEEKDAYS.index(d) + 1 for d in dow)))
    st.session_state[_STATE] = f
    st.session_state[_MIN_N] = int(min_n)
    sb.caption("Filters live in the address bar: copy the URL to share this exact view.")
    return f


def current() -> Filters:
    """The filters the entrypoint drew for this run (a page run alone gets the defaults)."""
    f = st.session_state.get(_STATE)
    if isinstance(f, Filters):
        return f
    return render()


def min_sample() -> int:
    v = st.session_state.get(_MIN_N)
    return int(v) if isinstance(v, int) else int(data.settings().min_sample)


def describe(f: Filters) -> list[str]:
    """Human-readable filter lines (CSV headers, captions)."""
    lines = [f"dates {f.d0.isoformat()} to {f.d1.isoformat()} (venue-local)"]
    if f.hoods:
        lines.append("neighborhoods " + ", ".join(f.hoods))
    if f.prices:
        lines.append("price " + ", ".join(PRICES[p - 1] for p in f.prices))
    if f.time_bucket:
        lines.append(f"time bucket {f.time_bucket}")
    if f.parties:
        lines.append("party size " + ", ".join(str(p) for p in f.parties))
    if f.dows:
        lines.append("weekday " + ", ".join(WEEKDAYS[d - 1] for d in f.dows))
    return lines
