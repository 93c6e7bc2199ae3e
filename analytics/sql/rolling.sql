-- rolling: (re)writes venue_rolling, venue_rolling_party, market_rolling and supply_compression
-- for every as_of in [a0, a1) from the per-day tables only (never raw events). Window of an as_of
-- = [as_of - window_days + 1, as_of], window_days in (7, 14). Definitions: see the table comments
-- in collector/store/migrations/0002_metrics.sql. Kaplan-Meier from the merged log-binned histogram:
-- at bin k, at_risk = n - (closed + censored in earlier bins); n_eff = at_risk - censored_k / 2
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

-- Kaplan-Meier over the merged histogram of the window
CREATE OR REPLACE TEMP TABLE rl_km AS
WITH h AS (
    SELECT w.as_of, w.window_days, x.provider, x.venue_id, coalesce(x.time_bucket, 'all') AS time_bucket, x.bin,
           sum(x.n_closed) AS d, sum(x.n_censored) AS c, sum(x.sum_s) AS s
    FROM venue_daily_hist x JOIN rl_win w ON x.metric_date BETWEEN w.start AND w.as_of
    GROUP BY GROUPING SETS ((w.as_of, w.window_days, x.provider, x.venue_id, x.time_bucket, x.bin),
                            (w.as_of, w.window_days, x.provider, x.venue_id, x.bin))
),
k1 AS (
    SELECT h.*,
           sum(d + c) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket) AS n_total,
           sum(d) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket) AS d_total,
           coalesce(sum(d + c) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket ORDER BY bin
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS gone,
           coalesce(sum(d) OVER (PARTITION BY as_of, window_days, provider, venue_id, time_bucket ORDER BY bin
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS d_before
    FROM h
),
k2 AS (
    SELECT k1.*, (n_total - gone) - c / 2.0 AS n_eff FROM k1
),
k3 AS (
    SELECT k2.*,
           CASE WHEN n_eff > 0 THEN d / n_eff ELSE 0 END AS q,
           CASE WHEN n_eff > d AND n_eff > 0 THEN d / (n_eff * (n_eff - d)) ELSE 0 END AS gw
    FROM k2
),
k4 AS (
    SELECT k3.*,
           CASE WHEN max(CASE WHEN q >= 1 THEN 1 ELSE 0 END) OVER cw = 1 THEN 0.0
                ELSE exp(sum(CASE WHEN q < 1 THEN ln(1 - q) ELSE 0 END) OVER cw) END AS surv,
           sum(gw) OVER cw AS gsum
    FROM k3
    WINDOW cw AS (PARTITION BY as_of, window_days, provider, venue_id, time_bucket ORDER BY bin ROWS UNBOUNDED PRECEDING)
),
k5 AS (
    SELECT k4.*,
           greatest(0.0, surv - 1.96 * surv * sqrt(gsum)) AS s_lo,
           least(1.0, surv + 1.96 * surv * sqrt(gsum)) AS s_hi,
           b.lo_s, b.hi_s
    FROM k4 JOIN duration_bins b ON b.bin = k4.bin
),
k6 AS (
    SELECT k5.*,
           lag(surv, 1, 1.0) OVER pw AS surv_prev,
           lag(s_lo, 1, 1.0) OVER pw AS s_lo_prev,
           lag(s_hi, 1, 1.0) OVER pw AS s_hi_prev
    FROM k5
    WINDOW pw AS (PARTITION BY as_of, window_days, provider, venue_id, time_bucket ORDER BY bin)
),
-- t where a curve falling from p (bin start) to x (bin end) crosses 0.5, log-linear in the bin
cross_pts AS (
    SELECT as_of, window_days, provider, venue_id, time_bucket,
           any_value(n_total) AS n, any_value(d_total) AS n_events,
           arg_min(CASE WHEN bin = 0 THEN least(1.0, greatest(0.0, (surv_prev - 0.5) / (surv_prev - surv)))
                        ELSE lo_s * pow(hi_s / lo_s, least(1.0, greatest(0.0, (surv_prev - 0.5) / (surv_prev - surv)))) END, bin)
               FILTER (WHERE surv <= 0.5 + 1e-9) AS km_median_s,
           arg_min(CASE WHEN bin = 0 THEN (s_lo_prev - 0.5) / (s_lo_prev - s_lo)
                        ELSE lo_s * pow(hi_s / lo_s, least(1.0, greatest(0.0, (s_lo_prev - 0.5) / (s_lo_prev - s_lo)))) END, bin)
               FILTER (WHERE s_lo <= 0.5 + 1e-9) AS km_median_lo_s,
           arg_min(CASE WHEN bin = 0 THEN (s_hi_prev - 0.5) / (s_hi_prev - s_hi)
                        ELSE lo_s * pow(hi_s / lo_s, least(1.0, greatest(0.0, (s_hi_prev - 0.5) / (s_hi_prev - s_hi)))) END, bin)
               FILTER (WHERE s_hi <= 0.5 + 1e-9) AS km_median_hi_s,
           -- plain median of the closed durations (censored ignored)
           arg_min(CASE WHEN bin = 0 THEN (d_total / 2.0 - d_before) / d
                        ELSE lo_s * pow(hi_s / lo_s, (d_total / 2.0 - d_before) / d) END, bin)
               FILTER (WHERE d > 0 AND d_before + d >= d_total / 2.0) AS median_close_s
    FROM k6
    GROUP BY as_of, window_days, provider, venue_id, time_bucket
)
SELECT * FROM cross_pts;

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
