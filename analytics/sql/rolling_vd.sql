-- rolling_vd: grain = one venue_daily row (venue, day, time bucket, party size) of the days
-- [<a0> - 13, <a1>) that the 7/14-day windows of every as_of in [<a0>, <a1>) read. Venue as its
-- row of temp.nd_venues (vi; -1 with xprov / xvid when the venue is not in the venues table).
-- analytics.nightly._rolling slides the windows over these rows in numpy.
SELECT coalesce(x.vi, -1) AS vi,
       CASE WHEN x.vi IS NULL THEN d.provider END AS xprov,
       CASE WHEN x.vi IS NULL THEN d.venue_id ELSE 0 END AS xvid,
       d.metric_date, d.time_bucket = 'prime' AS prime, d.party_size,
       d.drops, d.release_drops, d.cancel_drops, d.closed, d.closed_timed, d.censored,
       d.sum_close_s, d.observed_s, d.fully_booked_s
FROM venue_daily d
LEFT JOIN nd_venues x ON x.provider = d.provider AND x.venue_id = d.venue_id
WHERE d.metric_date >= CAST($a0 AS DATE) - 13 AND d.metric_date < $a1;
