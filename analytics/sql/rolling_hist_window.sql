-- rolling_hist_window: grain = one (venue, time bucket, bin) with any venue_daily_hist row in the
-- 14 days ending <a0>: the closed (d7, d14) and censored (c7, c14) counts of the 7- and 14-day
-- windows of as_of = <a0>, party sizes summed. The one-day refresh's input (the nightly run): the
-- windows summed here in one hash aggregate instead of 14 days of rows slid over in numpy
-- (rolling_hist.sql, which a range of as_of days still reads). Venue as in rolling_vd.sql.
SELECT coalesce(x.vi, -1) AS vi,
       CASE WHEN x.vi IS NULL THEN h.provider END AS xprov,
       CASE WHEN x.vi IS NULL THEN h.venue_id ELSE 0 END AS xvid,
       h.prime, h.bin, h.d7, h.c7, h.d14, h.c14
FROM (SELECT provider, venue_id, time_bucket = 'prime' AS prime, bin,
             coalesce(sum(n_closed) FILTER (WHERE metric_date > CAST($a0 AS DATE) - 7), 0) AS d7,
             coalesce(sum(n_censored) FILTER (WHERE metric_date > CAST($a0 AS DATE) - 7), 0) AS c7,
             sum(n_closed) AS d14, sum(n_censored) AS c14
      FROM venue_daily_hist
      WHERE metric_date >= CAST($a0 AS DATE) - 13 AND metric_date <= $a0
      GROUP BY ALL) h
LEFT JOIN nd_venues x ON x.provider = h.provider AND x.venue_id = h.venue_id;
