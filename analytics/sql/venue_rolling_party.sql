-- venue_rolling_party: grain = venue x as_of x window (7 | 14 days) x time bucket (incl. 'all') x
-- party size, for one <as_of> (rolling_windows.sql), for every venue with a venue_daily
-- row of that party size in the window.
--   drops, drops_per_day (per day of the window that was aggregated), share_of_drops = this party
--   size's share of the venue's drops in the window and time bucket, closed = its closed_timed,
--   mean_close_s = their mean time-to-close; n = drops, thin = drops < <min_sample>.

DELETE FROM venue_rolling_party WHERE as_of = $as_of;

INSERT INTO venue_rolling_party BY NAME
WITH venue_days AS (
    SELECT provider, venue_id, metric_date, coalesce(time_bucket, 'all') AS time_bucket, party_size,
           sum(drops) AS drops, sum(closed_timed) AS closed_timed, sum(sum_close_s) AS sum_close_s
    FROM venue_daily
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 13 AND $as_of
    GROUP BY GROUPING SETS ((provider, venue_id, metric_date, time_bucket, party_size),
                            (provider, venue_id, metric_date, party_size))
), windowed AS (
    SELECT w.as_of, w.window_days, d.provider, d.venue_id, d.time_bucket, d.party_size,
           any_value(w.days_observed) AS days_observed,
           sum(d.drops) AS drops, sum(d.closed_timed) AS closed, sum(d.sum_close_s) AS sum_close_s
    FROM venue_days d JOIN rolling_windows w ON d.metric_date BETWEEN w.window_start AND w.as_of
    GROUP BY ALL
)
SELECT provider, venue_id, as_of, window_days, time_bucket, party_size, drops,
       per_day(drops, days_observed) AS drops_per_day,
       drops / nullif(sum(drops) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket), 0) AS share_of_drops,
       closed, sum_close_s / nullif(closed, 0) AS mean_close_s,
       drops AS n, drops < $min_sample AS thin
FROM windowed;
