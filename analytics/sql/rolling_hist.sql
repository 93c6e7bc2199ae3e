-- rolling_hist: grain = one venue_daily_hist row (venue, day, time bucket, party size, bin) of the
-- days [<a0> - 13, <a1>) that the 7/14-day windows of as_of in [<a0>, <a1>) read: closed (d) and
-- censored (c) counts. Venue as in rolling_vd.sql. analytics.nightly._rolling_km sums party sizes
-- and time buckets ('all') and slides the windows over them in numpy.
SELECT coalesce(x.vi, -1) AS vi,
       CASE WHEN x.vi IS NULL THEN h.provider END AS xprov,
       CASE WHEN x.vi IS NULL THEN h.venue_id ELSE 0 END AS xvid,
       h.metric_date, h.time_bucket = 'prime' AS prime, h.bin, h.n_closed AS d, h.n_censored AS c
FROM venue_daily_hist h
LEFT JOIN nd_venues x ON x.provider = h.provider AND x.venue_id = h.venue_id
WHERE h.metric_date >= CAST($a0 AS DATE) - 13 AND h.metric_date < $a1;
