"""Scarcity score: its definition in words, shown by the dashboard and the digest.

The score itself is made in one place, the DuckDB macro in analytics/sql/measure_scarcity.sql
(used by the nightly venue_rolling table and every ranking the dashboard and digest show); this
module only holds the text, so every surface states the same formula.
"""

from __future__ import annotations

SCARCITY_FORMULA = (
    "Scarcity (0-100) is the average of three percentile ranks among comparable venues: "
    "share of observed time fully booked (higher is scarcer), drops per day (fewer is scarcer) "
    "and median time-to-close (faster is scarcer)."
)

SCARCITY_NOTE = (
    "Comparable venues = the non-thin venues of the same dates, filters and time bucket; a share or "
    "rate that cannot be computed is left out of the average, a median never reached ranks slowest; "
    "thin venues get no score."
)
