-- venue_daily: grain = venue x market-local day x time bucket x party size, for the days
-- [<d0>, <d1>): every venue known by the day's end (venues.first_seen_at) x every (time bucket,
-- party size) polled that day, so a venue with nothing opening has an explicit zero (volatility and
-- drops per day need it). Inputs: daily_inputs.sql, daily_open_time.sql. Definitions:
--   drops, release_drops, cancel_drops  NEW_DROPs observed that day (day of opened_hi); release =
--                  the date had just entered the booking window, cancel = every other drop
--   closed         CLOSED observed that day (day of closed_hi), any source
--   closed_timed   the time-to-close sample (daily_intervals.is_timed), n = closed_timed
--   censored       known openings whose end without a booking was recorded that day
--   sum_close_s, mean_close_s, median_close_s  over the closed_timed point durations
--   observed_s     observed gap seconds of this (time bucket, party size), market-wide
--   open_s         the part of observed_s with >= 1 open slot of the venue (daily_open)
--   fully_booked_s observed_s - open_s (the fully-booked share: measure_rates.sql)
--   polls_trusted / polls_untrusted  polls of this (time bucket, party size) that day
--   partial        copied from day_quality; thin = closed_timed < <min_sample>

DELETE FROM venue_daily WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO venue_daily BY NAME
WITH polled AS (
    SELECT metric_date, is_prime, party_size,
           count(*) FILTER (WHERE trusted) AS polls_trusted, count(*) FILTER (WHERE NOT trusted) AS polls_untrusted
    FROM daily_polls GROUP BY ALL
), observed AS (
    SELECT metric_date, is_prime, party_size, sum(valid_s) AS observed_s FROM daily_gaps GROUP BY ALL
), grid AS (
    SELECT v.provider, v.venue_id, d.metric_date, d.weekday, p.is_prime, p.party_size,
           p.polls_trusted, p.polls_untrusted, coalesce(o.observed_s, 0) AS observed_s
    FROM polled p
    JOIN daily_days d USING (metric_date)
    JOIN venues v ON v.first_seen_at < d.day_end
    LEFT JOIN observed o USING (metric_date, is_prime, party_size)
), dropped AS (
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size,
           count(*) AS drops, count(*) FILTER (WHERE i.is_release) AS release_drops
    FROM daily_intervals i JOIN daily_days d ON i.opened_hi >= d.day_start AND i.opened_hi < d.day_end
    WHERE i.is_drop GROUP BY ALL
), closed AS (
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size,
           count(*) AS closed, count(*) FILTER (WHERE i.is_timed) AS closed_timed,
           coalesce(sum(i.duration_s) FILTER (WHERE i.is_timed), 0) AS sum_close_s,
           avg(i.duration_s) FILTER (WHERE i.is_timed) AS mean_close_s,
           quantile_cont(i.duration_s, 0.5) FILTER (WHERE i.is_timed) AS median_close_s
    FROM daily_intervals i JOIN daily_days d ON i.closed_hi >= d.day_start AND i.closed_hi < d.day_end
    WHERE i.is_closed GROUP BY ALL
), censored AS (
    SELECT i.provider, i.venue_id, d.metric_date, i.is_prime, i.party_size, count(*) AS censored
    FROM daily_intervals i JOIN daily_days d ON i.ended_at >= d.day_start AND i.ended_at < d.day_end
    WHERE i.is_censored GROUP BY ALL
)
SELECT g.provider, g.venue_id, g.metric_date, g.weekday,
       CASE WHEN g.is_prime THEN 'prime' ELSE 'off_peak' END AS time_bucket, g.party_size,
       coalesce(dr.drops, 0) AS drops, coalesce(dr.release_drops, 0) AS release_drops,
       coalesce(dr.drops, 0) - coalesce(dr.release_drops, 0) AS cancel_drops,
       coalesce(c.closed, 0) AS closed, coalesce(c.closed_timed, 0) AS closed_timed,
       coalesce(ce.censored, 0) AS censored,
       coalesce(c.sum_close_s, 0) AS sum_close_s, c.mean_close_s, c.median_close_s,
       g.observed_s,
       least(coalesce(o.open_s, 0), g.observed_s) AS open_s,
       g.observed_s - least(coalesce(o.open_s, 0), g.observed_s) AS fully_booked_s,
       g.polls_trusted, g.polls_untrusted, q.partial,
       coalesce(c.closed_timed, 0) AS n, coalesce(c.closed_timed, 0) < $min_sample AS thin
FROM grid g
JOIN day_quality q ON q.metric_date = g.metric_date
LEFT JOIN dropped dr
       ON dr.provider = g.provider AND dr.venue_id = g.venue_id AND dr.metric_date = g.metric_date AND dr.is_prime = g.is_prime AND dr.party_size = g.party_size
LEFT JOIN closed c
       ON c.provider = g.provider AND c.venue_id = g.venue_id AND c.metric_date = g.metric_date AND c.is_prime = g.is_prime AND c.party_size = g.party_size
LEFT JOIN censored ce
       ON ce.provider = g.provider AND ce.venue_id = g.venue_id AND ce.metric_date = g.metric_date AND ce.is_prime = g.is_prime AND ce.party_size = g.party_size
LEFT JOIN daily_open o
       ON o.provider = g.provider AND o.venue_id = g.venue_id AND o.metric_date = g.metric_date AND o.is_prime = g.is_prime AND o.party_size = g.party_size;
