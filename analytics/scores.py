"""Scarcity score: its one-sentence definition, shown by the dashboard and the digest.

The score itself is computed in SQL (analytics/sql/venue_rolling.sql) by the nightly job; this
module only holds the definition text so every surface states the same formula.
"""

from __future__ import annotations

SCARCITY_FORMULA = (
    "Scarcity (0-100) is the average of three percentile ranks among comparable venues: "
    "share of observed time fully booked (higher is scarcer), drops per day (fewer is scarcer) "
    "and median time-to-close (faster is scarcer)."
)

SCARCITY_NOTE = (
    "Comparable venues = the non-thin venues of the same window and time bucket; a component "
    "that cannot be computed is left out of the average; thin venues get no score."
)
