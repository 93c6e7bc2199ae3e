"""Captions with sample sizes, thin-sample notices and explained empty states (plain text only)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

import streamlit as st

from analytics.fmt import duration
from dashboard import data
from dashboard.components import guard


def fmt_n(n: int | float | None) -> str:
    return "n = 0" if n is None or (isinstance(n, float) and math.isnan(n)) else f"n = {int(n):,}"


fmt_duration = duration   # seconds as '1 min 50 s' / '2 h 05 min' / '45 s'; an em dash when unknown


def caption(definition: str, n: int | float | None, unit: str = "") -> None:
    """The one-line caption under every chart: definition, then the sample size."""
    st.caption(f"{definition} · {fmt_n(n)}{(' ' + unit) if unit else ''}")


def resolution(gaps: Iterable[float | None]) -> str:
    """A caption clause saying how finely time-to-close was measured, from the days' median gaps
    between polls of a bucket (day_quality.median_gap_s); "" when no day has one. Durations are
    measured between polls: a close faster than the gap reads as up to one gap long."""
    g = [float(x) for x in gaps if not (x is None or math.isnan(float(x)))]
    if not g:
        return ""
    lo, hi = min(g), max(g)
    apart = duration(lo) if round(lo) == round(hi) else f"{duration(lo)} to {duration(hi)}"
    return (f"; durations are measured between polls, {apart} apart on these days (median gap), so a "
            "faster close reads as up to one gap long")


def resolution_over(d0: date, d1: date) -> str:
    """resolution() for the market days d0..d1 (their day_quality rows): the clause every
    time-to-close caption ends with."""
    return resolution(guard.load(data.days, d0, d1)["median_gap_s"])


def empty(what: str, why: str) -> None:
    """An explained empty state: what would be here and why it is not."""
    st.info(f"No {what} to show: {why}", icon=":material/info:")


def thin(n: int, min_n: int, what: str) -> bool:
    """Show a thin-sample notice when n < min_n; returns True when thin."""
    if n < min_n:
        st.warning(f"Thin sample: {what} rests on {n:,} observations, below the minimum of {min_n:,}. "
                   "Read it as a hint, not a finding.", icon=":material/warning:")
        return True
    return False
