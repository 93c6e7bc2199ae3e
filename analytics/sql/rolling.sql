-- rolling: first half of the rolling refresh (then analytics.survival fills temp.rl_km, then
-- rolling_write.sql). Together they (re)write venue_rolling, venue_rolling_party, market_rolling
-- and supply_compression for every as_of in [a0, a1) from the per-day tables only (never raw events).
-- Grain of the temp tables: rl_win (as_of, window_days), rl_vd (venue, day, time bucket),
-- rl_base (as_of, window_days, venue, time bucket): window sums of venue_daily. Window of an as_of
-- = [as_of - window_days + 1, as_of], window_days in (7, 14). Definitions: see the table comments
-- in collector/store/migrations/0002_metrics.sql. Kaplan-Meier from the merged log-binned histogram:
-- (computed in numpy by analytics.survival.km_binned over rolling_hist.sql rows:) at bin k, at_risk = n - (closed + censored in earlier bins); n_eff = at_risk - censored_k / 2
-- (life-table); S_k = prod (1 - closed_j / n_eff_j); Greenwood var = S^2 sum closed/(n_eff (n_eff - closed));
-- median = where S crosses 0.5 (1e-9 tolerance: S is exp(sum ln)), log-linear inside the bin; CI where S -/+ 1.96 SE crosses 0.5.
-- Scarcity (0-100) is the average of three percentile ranks among comparable venues: share of
-- observed time fully booked (higher is scarcer), drops per day (fewer is scarcer) and median
-- time-to-close (faster is scarcer); comparable = non-thin rows of the same as_of, window and time
-- bucket; a venue whose KM median is not reached ranks slowest. (= analytics.scores.SCARCITY_FORMULA)

DELETE FROM venue_rolling WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM venue_rolling_party WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM market_rolling WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM supply_compression WHERE as_of >= $a0 AND as_of < $a1;

CREATE OR REPLACE TEMP TABLE rl_win AS
SELECT CAST(a AS DATE) AS as_of, w.window_days,
       CAST(a AS DATE) - (w.window_days - 1) AS start,
       (SELECT count(*) FROM day_quality q WHERE q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS days_observed,
       (SELECT count(*) FROM day_quality q WHERE q.partial AND q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS partial_days
FROM range(CAST($a0 AS TIMESTAMP), CAST($a1 AS TIMESTAMP), INTERVAL 1 DAY) r(a),
     (VALUES (7), (14)) w(window_days);

-- per venue, day and time bucket ('all' added), party sizes summed
CREATE OR REPLACE TEMP TABLE rl_vd AS
SELECT provider, venue_id, metric_date, coalesce(time_bucket, 'all') AS time_bucket,
       sum(drops) AS drops, sum(release_drops) AS release_drops, sum(cancel_drops) AS cancel_drops,
       sum(closed) AS closed, sum(closed_timed) AS closed_timed, sum(censored) AS censored,
       sum(sum_close_s) AS sum_close_s, sum(observed_s) AS observed_s, sum(fully_booked_s) AS fully_booked_s
FROM venue_daily
WHERE metric_date >= CAST($a0 AS DATE) - 13 AND metric_date < $a1
GROUP BY GROUPING SETS ((provider, venue_id, metric_date, time_bucket), (provider, venue_id, metric_date));

CREATE OR REPLACE TEMP TABLE rl_base AS
SELECT w.as_of, w.window_days, v.provider, v.venue_id, v.time_bucket,
       any_value(w.days_observed) AS days_observed, any_value(w.partial_days) AS partial_days,
       sum(v.drops) AS drops, sum(v.release_drops) AS release_drops, sum(v.cancel_drops) AS cancel_drops,
       sum(v.closed) AS closed, sum(v.closed_timed) AS closed_timed, sum(v.censored) AS censored,
       sum(v.sum_close_s) AS sum_close_s, sum(v.observed_s) AS observed_s, sum(v.fully_booked_s) AS fully_booked_s,
       stddev_pop(v.drops) AS volatility, avg(v.drops) AS mean_daily,
       sum(v.drops) FILTER (WHERE v.metric_date > w.as_of - 7) AS drops_last7,
       sum(v.drops) FILTER (WHERE v.metric_date <= w.as_of - 7) AS drops_prev7,
       count(*) FILTER (WHERE v.metric_date > w.as_of - 7) AS days_last7,
       count(*) FILTER (WHERE v.metric_date <= w.as_of - 7) AS days_prev7
FROM rl_vd v JOIN rl_win w ON v.metric_date BETWEEN w.start AND w.as_of
GROUP BY w.as_of, w.window_days, v.provider, v.venue_id, v.time_bucket;
