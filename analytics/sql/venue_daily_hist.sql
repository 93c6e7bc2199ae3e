-- venue_daily_hist: grain = venue x day x time bucket x party size x duration bin, for the days
-- [<d0>, <d1>): the time-to-close sample of venue_daily as a histogram that merges over any set of
-- days and filters (bins: duration_bin in measure_time_to_close.sql). Every venue, in the venues
-- table or not. Input: daily_inputs.sql.
--   n_closed    timed CLOSED intervals (is_timed, day of closed_hi) at their point duration
--   n_censored  censored ones (is_censored, day the end was recorded) at closed_lo - opened_hi,
--               the time they are known to have lasted
--   sum_s       sum of the closed point durations (exact means over any merge)

DELETE FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO venue_daily_hist BY NAME
WITH sample AS (
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size, i.duration_s AS seconds, TRUE AS is_closed
    FROM daily_intervals i JOIN daily_days d ON i.closed_hi >= d.day_start AND i.closed_hi < d.day_end
    WHERE i.is_timed AND i.duration_s IS NOT NULL
    UNION ALL
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size,
           (epoch_us(i.last_seen) - epoch_us(i.opened_hi)) / 1e6, FALSE
    FROM daily_intervals i JOIN daily_days d ON i.ended_at >= d.day_start AND i.ended_at < d.day_end
    WHERE i.is_censored
)
SELECT provider, venue_id, metric_date, CASE WHEN is_prime THEN 'prime' ELSE 'off_peak' END AS time_bucket,
       party_size, duration_bin(seconds) AS bin,
       count(*) FILTER (WHERE is_closed) AS n_closed, count(*) FILTER (WHERE NOT is_closed) AS n_censored,
       coalesce(sum(seconds) FILTER (WHERE is_closed), 0) AS sum_s
FROM sample GROUP BY ALL;
