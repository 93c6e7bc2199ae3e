-- rolling_hist: grain = provider, venue_id, time_bucket ('prime' | 'off_peak' | 'all'), metric_date,
-- bin: the closed / censored counts of venue_daily_hist with party sizes summed, for the days
-- [<a0> - 13, <a1>) that the 7/14-day windows of as_of in [<a0>, <a1>) read. One read of the per-day
-- histograms; analytics.nightly._rolling_km slides the windows over them in numpy.
SELECT provider, venue_id, coalesce(time_bucket, 'all') AS time_bucket, metric_date, bin,
       sum(n_closed) AS d, sum(n_censored) AS c
FROM venue_daily_hist
WHERE metric_date >= CAST($a0 AS DATE) - 13 AND metric_date < $a1
GROUP BY GROUPING SETS ((provider, venue_id, time_bucket, metric_date, bin), (provider, venue_id, metric_date, bin));
