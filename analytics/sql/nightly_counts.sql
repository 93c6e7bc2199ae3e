-- nightly_counts: one row, the rows the per-day tables hold for the days [<d0>, <d1>) (what a
-- re-run replaces; reported as `replaced`).
SELECT (SELECT count(*) FROM day_quality WHERE metric_date >= $d0 AND metric_date < $d1)
     + (SELECT count(*) FROM venue_daily WHERE metric_date >= $d0 AND metric_date < $d1)
     + (SELECT count(*) FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1)
     + (SELECT count(*) FROM market_daily WHERE metric_date >= $d0 AND metric_date < $d1)
     + (SELECT count(*) FROM supply_daily WHERE metric_date >= $d0 AND metric_date < $d1)
     + (SELECT count(*) FROM market_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1);
