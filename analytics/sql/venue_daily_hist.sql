-- venue_daily_hist: grain = venue x day x time bucket x party size x duration bin, for the days
-- [<d0>, <d1>): the time-to-close sample of venue_daily as a histogram that merges over any set of
-- days and filters (bins: duration_bin in measure_time_to_close.sql). Every venue, in the venues
-- table or not. Input: daily_inputs.sql.
--   bin         the bin of the point duration (first absent - first seen; censored: closed_lo - opened_hi)
--   lo_bin      the bin of L = closed_lo - opened_hi, what the interval was seen to last
--   hi_bin      the bin of R = closed_hi - opened_lo, when a closed one was certainly gone (censored:
--               = lo_bin, unused): measure_time_to_close estimates from [lo_bin, hi_bin]
--   n_closed    timed CLOSED intervals (is_timed, day of closed_hi)
--   n_censored  censored ones (is_censored, day the end was recorded), known to have lasted L
--   sum_s       sum of the closed point durations (exact means over any merge)

DELETE FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO venue_daily_hist BY NAME
WITH sample AS (
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size, i.duration_s AS seconds,
           greatest(0.0, (epoch_us(i.last_seen) - epoch_us(i.opened_hi)) / 1e6) AS lo_s,
           (epoch_us(i.closed_hi) - epoch_us(i.opened_lo)) / 1e6 AS hi_s, TRUE AS is_closed
    FROM daily_intervals i JOIN daily_days d ON i.closed_hi >= d.day_start AND i.closed_hi < d.day_end
    WHERE i.is_timed AND i.duration_s IS NOT NULL
    UNION ALL
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size,
           (epoch_us(i.last_seen) - epoch_us(i.opened_hi)) / 1e6 AS seconds,
           greatest(0.0, (epoch_us(i.last_seen) - epoch_us(i.opened_hi)) / 1e6), NULL, FALSE
    FROM daily_intervals i JOIN daily_days d ON i.ended_at >= d.day_start AND i.ended_at < d.day_end
    WHERE i.is_censored
)
SELECT provider, venue_id, metric_date, CASE WHEN is_prime THEN 'prime' ELSE 'off_peak' END AS time_bucket,
       party_size, duration_bin(seconds) AS bin, duration_bin(lo_s) AS lo_bin,
       coalesce(duration_bin(hi_s), duration_bin(lo_s)) AS hi_bin,
       count(*) FILTER (WHERE is_closed) AS n_closed, count(*) FILTER (WHERE NOT is_closed) AS n_censored,
       coalesce(sum(seconds) FILTER (WHERE is_closed), 0) AS sum_s
FROM sample GROUP BY ALL;
