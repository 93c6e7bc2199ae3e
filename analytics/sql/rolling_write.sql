-- rolling_write: second half of the rolling refresh (see rolling.sql for the definitions). Grain of
-- each insert: venue_rolling (venue, as_of, window_days, time bucket incl. 'all'), venue_rolling_party
-- (+ party size), market_rolling (as_of, window_days, time bucket), supply_compression (as_of,
-- bucket_date, time bucket, party size). Reads temp.rl_win / rl_vd / rl_base (rolling.sql) and
-- temp.rl_km (analytics.nightly._rolling_km: Kaplan-Meier medians per as_of, window, venue, time bucket).

CREATE OR REPLACE TEMP TABLE rl_venue AS
WITH j AS (
    SELECT b.*, k.km_median_s, k.km_median_lo_s, k.km_median_hi_s, k.median_close_s,
           b.drops / nullif(b.days_observed, 0) AS drops_per_day,
           b.fully_booked_s / nullif(b.observed_s, 0) AS fully_booked_share,
           (b.closed_timed + b.censored) AS n,
           (b.closed_timed + b.censored) < $min_sample AS thin,
           (b.drops_last7 / nullif(b.days_last7, 0)) AS rate_last7,
           (b.drops_prev7 / nullif(b.days_prev7, 0)) AS rate_prev7
    FROM rl_base b
    LEFT JOIN rl_km k ON k.as_of = b.as_of AND k.window_days = b.window_days AND k.provider = b.provider
                     AND k.venue_id = b.venue_id AND k.time_bucket = b.time_bucket
),
r AS (
    SELECT j.*,
           CASE WHEN NOT thin AND fully_booked_share IS NOT NULL THEN
                percent_rank() OVER (PARTITION BY as_of, window_days, time_bucket, thin, fully_booked_share IS NULL
                                     ORDER BY fully_booked_share) END AS c_booked,
           CASE WHEN NOT thin AND drops_per_day IS NOT NULL THEN
                percent_rank() OVER (PARTITION BY as_of, window_days, time_bucket, thin, drops_per_day IS NULL
                                     ORDER BY drops_per_day DESC) END AS c_rare,
           CASE WHEN NOT thin THEN
                percent_rank() OVER (PARTITION BY as_of, window_days, time_bucket, thin
                                     ORDER BY coalesce(km_median_s, 'infinity'::DOUBLE) DESC) END AS c_fast
    FROM j
),
s AS (
    SELECT r.*,
           CASE WHEN NOT thin THEN 100.0 * (coalesce(c_booked, 0) + coalesce(c_rare, 0) + coalesce(c_fast, 0))
                / nullif((c_booked IS NOT NULL)::INT + (c_rare IS NOT NULL)::INT + (c_fast IS NOT NULL)::INT, 0) END AS scarcity_score
    FROM r
)
SELECT s.*,
       CASE WHEN scarcity_score IS NOT NULL THEN
            row_number() OVER (PARTITION BY as_of, window_days, time_bucket, scarcity_score IS NULL
                               ORDER BY scarcity_score DESC, venue_id) END AS scarcity_rank
FROM s;

INSERT INTO venue_rolling
SELECT provider, venue_id, as_of, window_days, time_bucket, days_observed, partial_days,
       drops, drops_per_day, release_drops, cancel_drops, release_drops / nullif(drops, 0),
       closed, closed_timed, censored, km_median_s, km_median_lo_s, km_median_hi_s, median_close_s,
       sum_close_s / nullif(closed_timed, 0), observed_s, fully_booked_s, fully_booked_share,
       volatility, volatility / nullif(mean_daily, 0),
       drops_last7, drops_prev7,
       100.0 * (rate_last7 - rate_prev7) / nullif(rate_prev7, 0),
       CASE WHEN rate_last7 IS NULL OR rate_prev7 IS NULL THEN 'flat'
            WHEN rate_prev7 = 0 AND rate_last7 > 0 THEN 'up'
            WHEN rate_prev7 = 0 THEN 'flat'
            WHEN (rate_last7 - rate_prev7) / rate_prev7 >= 0.10 THEN 'up'
            WHEN (rate_last7 - rate_prev7) / rate_prev7 <= -0.10 THEN 'down'
            ELSE 'flat' END,
       scarcity_score, scarcity_rank, n, thin
FROM rl_venue;

-- Grain: venue, as_of, window, time bucket (incl. 'all'), party size.
INSERT INTO venue_rolling_party
WITH p AS (
    SELECT w.as_of, w.window_days, v.provider, v.venue_id, coalesce(v.time_bucket, 'all') AS time_bucket, v.party_size,
           any_value(w.days_observed) AS days_observed,
           sum(v.drops) AS drops, sum(v.closed_timed) AS closed, sum(v.sum_close_s) AS sum_close_s
    FROM venue_daily v JOIN rl_win w ON v.metric_date BETWEEN w.start AND w.as_of
    GROUP BY GROUPING SETS ((w.as_of, w.window_days, v.provider, v.venue_id, v.time_bucket, v.party_size),
                            (w.as_of, w.window_days, v.provider, v.venue_id, v.party_size))
)
SELECT provider, venue_id, as_of, window_days, time_bucket, party_size, drops,
       drops / nullif(days_observed, 0),
       drops / nullif(sum(drops) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket), 0),
       closed, sum_close_s / nullif(closed, 0), drops, drops < $min_sample
FROM p;

-- Grain: as_of, window, time bucket (incl. 'all').
INSERT INTO market_rolling
WITH daily AS (
    SELECT metric_date, time_bucket, sum(drops) AS drops FROM rl_vd GROUP BY metric_date, time_bucket
),
m AS (
    SELECT w.as_of, w.window_days, d.time_bucket, stddev_pop(d.drops) / nullif(avg(d.drops), 0) AS market_cv
    FROM daily d JOIN rl_win w ON d.metric_date BETWEEN w.start AND w.as_of
    GROUP BY ALL
),
v AS (
    SELECT as_of, window_days, time_bucket, any_value(days_observed) AS days_observed,
           any_value(partial_days) AS partial_days, sum(drops) AS drops, sum(release_drops) AS release_drops,
           100.0 * avg(volatility / nullif(mean_daily, 0)) FILTER (WHERE NOT thin) AS volatility_index,
           count(*) FILTER (WHERE days_observed > 0) AS n,
           count(*) FILTER (WHERE NOT thin) AS venues_ranked
    FROM rl_venue GROUP BY ALL
),
sup AS (
    SELECT s.metric_date AS as_of, coalesce(s.time_bucket, 'all') AS time_bucket,
           sum(s.open_slots) AS open_slots, sum(s.baseline_slots) AS baseline_slots
    FROM supply_daily s
    WHERE s.metric_date >= CAST($a0 AS DATE) - 7 AND s.metric_date < $a1 AND s.lead_days BETWEEN 0 AND 13
    GROUP BY GROUPING SETS ((s.metric_date, s.time_bucket), (s.metric_date))
)
SELECT v.as_of, v.window_days, v.time_bucket, v.days_observed, v.partial_days, v.drops,
       v.drops / nullif(v.days_observed, 0), v.release_drops, v.volatility_index, m.market_cv,
       cur.open_slots, cur.baseline_slots, cur.open_slots / nullif(cur.baseline_slots, 0),
       ref.open_slots, 100.0 * (cur.open_slots - ref.open_slots) / nullif(ref.open_slots, 0),
       v.n, v.venues_ranked, v.venues_ranked < $min_sample
FROM v
LEFT JOIN m ON m.as_of = v.as_of AND m.window_days = v.window_days AND m.time_bucket = v.time_bucket
LEFT JOIN sup cur ON cur.as_of = v.as_of AND cur.time_bucket = v.time_bucket
LEFT JOIN sup ref ON ref.as_of = v.as_of - 7 AND ref.time_bucket = v.time_bucket;

-- Grain: as_of, bucket_date, time bucket (incl. 'all'), party size (0 = all).
INSERT INTO supply_compression
WITH s AS (
    SELECT metric_date, bucket_date, coalesce(time_bucket, 'all') AS time_bucket, coalesce(party_size, 0) AS party_size,
           any_value(lead_days) AS lead_days, sum(open_slots) AS open_slots, sum(baseline_slots) AS baseline_slots,
           bool_or(partial) AS partial
    FROM supply_daily
    WHERE metric_date >= CAST($a0 AS DATE) - 7 AND metric_date < $a1
    GROUP BY GROUPING SETS ((metric_date, bucket_date, time_bucket, party_size), (metric_date, bucket_date, time_bucket),
                            (metric_date, bucket_date, party_size), (metric_date, bucket_date))
)
SELECT c.metric_date, c.bucket_date, c.time_bucket, c.party_size, c.lead_days, CAST(isodow(c.bucket_date) AS SMALLINT),
       c.open_slots, c.baseline_slots, 100.0 * (c.open_slots - c.baseline_slots) / nullif(c.baseline_slots, 0),
       r.open_slots, 100.0 * (c.open_slots - r.open_slots) / nullif(r.open_slots, 0),
       c.partial OR coalesce(r.partial, FALSE)
FROM s c
LEFT JOIN s r ON r.metric_date = c.metric_date - 7 AND r.bucket_date = c.bucket_date - 7
             AND r.time_bucket = c.time_bucket AND r.party_size = c.party_size
WHERE c.metric_date >= $a0 AND c.metric_date < $a1;

DROP TABLE IF EXISTS rl_win;
DROP TABLE IF EXISTS rl_vd;
DROP TABLE IF EXISTS rl_base;
DROP TABLE IF EXISTS rl_km;
DROP TABLE IF EXISTS rl_venue;
