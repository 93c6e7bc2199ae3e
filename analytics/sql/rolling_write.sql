-- rolling_write: last part of the rolling refresh (see rolling.sql for the definitions), run after
-- analytics.nightly.refresh_rolling has inserted venue_rolling and venue_rolling_party (computed in
-- numpy). Grain of each insert: market_rolling (as_of, window_days, time bucket) from venue_rolling,
-- venue_daily and supply_daily; supply_compression (as_of, bucket_date, time bucket, party size)
-- from supply_daily. Reads temp.rl_win (rolling.sql).

-- Grain: as_of, window, time bucket (incl. 'all').
INSERT INTO market_rolling
WITH daily AS (
    SELECT metric_date, coalesce(time_bucket, 'all') AS time_bucket, sum(drops) AS drops
    FROM venue_daily
    WHERE metric_date >= CAST($a0 AS DATE) - 13 AND metric_date < $a1
    GROUP BY GROUPING SETS ((metric_date, time_bucket), (metric_date))
),
m AS (
    SELECT w.as_of, w.window_days, d.time_bucket, stddev_pop(d.drops) / nullif(avg(d.drops), 0) AS market_cv
    FROM daily d JOIN rl_win w ON d.metric_date BETWEEN w.start AND w.as_of
    GROUP BY ALL
),
v AS (
    SELECT as_of, window_days, time_bucket, any_value(days_observed) AS days_observed,
           any_value(partial_days) AS partial_days, sum(drops) AS drops, sum(release_drops) AS release_drops,
           100.0 * avg(volatility_cv) FILTER (WHERE NOT thin) AS volatility_index,
           count(*) FILTER (WHERE days_observed > 0) AS n,
           count(*) FILTER (WHERE NOT thin) AS venues_ranked
    FROM venue_rolling WHERE as_of >= $a0 AND as_of < $a1 GROUP BY ALL
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
