"""The weekly editorial digest ("State of NYC reservations"): headlines, tables, charts, bundle.

Owns the digest bundle (digest.md / .html / .pdf, charts as PNG + SVG, one CSV per table,
manifest.json). Called by `tablepulse digest` (analytics.digest.cli) and the dashboard's Weekly
digest page; takes a DuckDB connection and plain settings values, never Streamlit or collector.
"""

from analytics.digest.builder import BuildOptions, Bundle, NoWeekData, available_weeks, build, write_bundle
from analytics.digest.week import IsoWeek, WeekError, last_complete_week, parse_week

__all__ = ["BuildOptions", "Bundle", "IsoWeek", "NoWeekData", "WeekError", "available_weeks", "build",
           "last_complete_week", "parse_week", "write_bundle"]
