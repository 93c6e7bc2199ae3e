-- metric_counts: one row, the rows each metric table holds for the days [<d0>, <d1>) of its day
-- column (metric_date for the per-day tables, as_of for the rolling ones): what a run wrote.
SELECT (SELECT count(*) FROM day_quality WHERE metric_date >= $d0 AND metric_date < $d1) AS day_quality,
       (SELECT count(*) FROM venue_daily WHERE metric_date >= $d0 AND metric_date < $d1) AS venue_daily,
       (SELECT count(*) FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1) AS venue_daily_hist,
       (SELECT count(*) FROM market_daily WHERE metric_date >= $d0 AND metric_date < $d1) AS market_daily,
       (SELECT count(*) FROM venue_hourly WHERE metric_date >= $d0 AND metric_date < $d1) AS venue_hourly,
       (SELECT count(*) FROM supply_daily WHERE metric_date >= $d0 AND metric_date < $d1) AS supply_daily,
       (SELECT count(*) FROM market_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1) AS market_daily_hist,
       (SELECT count(*) FROM venue_rolling WHERE as_of >= $d0 AND as_of < $d1) AS venue_rolling,
       (SELECT count(*) FROM venue_rolling_party WHERE as_of >= $d0 AND as_of < $d1) AS venue_rolling_party,
       (SELECT count(*) FROM market_rolling WHERE as_of >= $d0 AND as_of < $d1) AS market_rolling,
       (SELECT count(*) FROM supply_compression WHERE as_of >= $d0 AND as_of < $d1) AS supply_compression;
