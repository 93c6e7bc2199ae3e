-- venue_rolling: grain = venue x as_of x window (7 | 14 days) x time bucket ('prime', 'off_peak',
-- 'all' = both), for one <as_of> (windows: rolling_windows.sql), for every venue with a
-- venue_daily row in the window. Party sizes are summed. Definitions:
--   days_observed, partial_days  aggregated / partial days in the window (day_quality)
--   drops, release_drops, cancel_drops, closed, closed_timed, censored, observed_s, fully_booked_s
--                  sums of venue_daily over the window
--   drops_per_day  drops / day over the window's complete days (all its days when none is
--                  complete: measure_rates complete_day_rate); release_share, fully_booked_share, volatility,
--                  volatility_cv, trend_pct, trend: measure_rates.sql, over the venue's days with a
--                  row (drops_last7 / drops_prev7: as_of-6..as_of / as_of-13..as_of-7, NULL when the
--                  venue has no row there)
--   km_median_s, km_median_lo_s, km_median_hi_s, km_median_bound_s, median_close_s:
--                  measure_time_to_close.sql over the window's merged venue_daily_hist
--   mean_close_s   sum_close_s / closed_timed
--   n = closed_timed + censored (the time-to-close sample); thin = n < <min_sample>
--   scarcity_score, scarcity_rank: measure_scarcity.sql among the venues of the same as_of, window
--                  and time bucket

DELETE FROM venue_rolling WHERE as_of = $as_of;

INSERT INTO venue_rolling BY NAME
WITH venue_days AS (   -- one row per venue, day and time bucket (incl. 'all'), party sizes summed
    SELECT provider, venue_id, metric_date, coalesce(time_bucket, 'all') AS time_bucket,
           sum(drops) AS drops, sum(release_drops) AS release_drops, sum(cancel_drops) AS cancel_drops,
           sum(closed) AS closed, sum(closed_timed) AS closed_timed, sum(censored) AS censored,
           sum(sum_close_s) AS sum_close_s, sum(observed_s) AS observed_s, sum(fully_booked_s) AS fully_booked_s
    FROM venue_daily
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 13 AND $as_of
    GROUP BY GROUPING SETS ((provider, venue_id, metric_date, time_bucket), (provider, venue_id, metric_date))
), windowed AS (
    SELECT w.as_of, w.window_days, d.provider, d.venue_id, d.time_bucket,
           any_value(w.days_observed) AS days_observed, any_value(w.partial_days) AS partial_days,
           sum(d.drops) AS drops, sum(d.drops) FILTER (WHERE NOT q.partial) AS drops_complete,
           sum(d.release_drops) AS release_drops, sum(d.cancel_drops) AS cancel_drops,
           sum(d.closed) AS closed, sum(d.closed_timed) AS closed_timed, sum(d.censored) AS censored,
           sum(d.sum_close_s) AS sum_close_s, sum(d.observed_s) AS observed_s, sum(d.fully_booked_s) AS fully_booked_s,
           volatility(d.drops) AS volatility, volatility_cv(d.drops) AS volatility_cv,
           sum(d.drops) FILTER (WHERE d.metric_date > w.as_of - 7) AS drops_last7,
           count(*) FILTER (WHERE d.metric_date > w.as_of - 7) AS days_last7,
           sum(d.drops) FILTER (WHERE d.metric_date <= w.as_of - 7) AS drops_prev7,
           count(*) FILTER (WHERE d.metric_date <= w.as_of - 7) AS days_prev7
    FROM venue_days d JOIN rolling_windows w ON d.metric_date BETWEEN w.window_start AND w.as_of
    JOIN day_quality q ON q.metric_date = d.metric_date
    GROUP BY ALL
), bucket_hist AS (   -- the merged histogram of each window per time bucket, party sizes summed
    SELECT provider, venue_id, time_bucket, bin, lo_bin, hi_bin,
           coalesce(sum(n_closed) FILTER (WHERE metric_date > CAST($as_of AS DATE) - 7), 0) AS closed_7,
           coalesce(sum(n_censored) FILTER (WHERE metric_date > CAST($as_of AS DATE) - 7), 0) AS censored_7,
           sum(n_closed) AS closed_14, sum(n_censored) AS censored_14
    FROM venue_daily_hist
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 13 AND $as_of
    GROUP BY ALL
), window_hist AS (    -- ... and for both time buckets ('all')
    SELECT * FROM bucket_hist
    UNION ALL
    SELECT provider, venue_id, 'all', bin, lo_bin, hi_bin, sum(closed_7), sum(censored_7), sum(closed_14), sum(censored_14)
    FROM bucket_hist GROUP BY provider, venue_id, bin, lo_bin, hi_bin
), groups AS (         -- one number per (window, venue, time bucket): the estimate's group
    SELECT window_days, provider, venue_id, time_bucket, row_number() OVER () AS grp
    FROM (SELECT DISTINCT provider, venue_id, time_bucket FROM window_hist),
         (VALUES (CAST(7 AS SMALLINT)), (CAST(14 AS SMALLINT))) w(window_days)
), hist AS (
    SELECT g.grp, h.bin, h.lo_bin, h.hi_bin, CASE g.window_days WHEN 7 THEN h.closed_7 ELSE h.closed_14 END AS n_closed,
           CASE g.window_days WHEN 7 THEN h.censored_7 ELSE h.censored_14 END AS n_censored
    FROM window_hist h JOIN groups g USING (provider, venue_id, time_bucket)
), km AS (
    SELECT g.window_days, g.provider, g.venue_id, g.time_bucket,
           t.km_median_s, t.km_median_lo_s, t.km_median_hi_s, t.km_median_bound_s, t.median_close_s
    FROM time_to_close(hist) t JOIN groups g USING (grp)
), rows AS (
    SELECT {'window_days': w.window_days, 'time_bucket': w.time_bucket} AS peer_group,
           w.*, complete_day_rate(w.drops, w.days_observed, w.drops_complete, w.days_observed - w.partial_days) AS drops_per_day,
           release_share(w.release_drops, w.drops) AS release_share,
           fully_booked_share(w.fully_booked_s, w.observed_s) AS fully_booked_share,
           km.km_median_s, km.km_median_lo_s, km.km_median_hi_s, km.km_median_bound_s, km.median_close_s,
           w.sum_close_s / nullif(w.closed_timed, 0) AS mean_close_s,
           CASE WHEN w.days_last7 > 0 THEN w.drops_last7 END AS drops_last7_kept,
           CASE WHEN w.days_prev7 > 0 THEN w.drops_prev7 END AS drops_prev7_kept,
           trend_pct(w.drops_last7, w.days_last7, w.drops_prev7, w.days_prev7) AS trend_pct,
           trend(w.drops_last7, w.days_last7, w.drops_prev7, w.days_prev7) AS trend,
           w.closed_timed + w.censored AS n, w.closed_timed + w.censored < $min_sample AS thin
    FROM windowed w
    LEFT JOIN km USING (window_days, provider, venue_id, time_bucket)
)
SELECT * EXCLUDE (peer_group, sum_close_s, drops_complete, drops_last7, drops_prev7, days_last7, days_prev7,
                  drops_last7_kept, drops_prev7_kept),
       drops_last7_kept AS drops_last7, drops_prev7_kept AS drops_prev7
FROM scarcity(rows);
