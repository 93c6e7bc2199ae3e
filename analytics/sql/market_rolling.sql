-- market_rolling: grain = as_of x window (7 | 14 days) x time bucket (incl. 'all'), for one
-- <as_of> (rolling_windows.sql). Runs after venue_rolling.sql.
--   drops, drops_per_day, release_drops  over the window (venue_rolling, every venue)
--   volatility_index  100 x the mean volatility_cv of the non-thin venues
--   market_cv         the coefficient of variation of the market's daily drops (venue_daily)
--   forward_open_slots / forward_baseline_slots / forward_density  the next 14 days' inventory at
--                     as_of's snapshots (supply_daily, lead 0-13) and its share of the baseline;
--   forward_open_ref, compression_pct  the same a week earlier and the change against it
--   n = venues with a row, venues_ranked = non-thin venues; thin = venues_ranked < <min_sample>

DELETE FROM market_rolling WHERE as_of = $as_of;

INSERT INTO market_rolling BY NAME
WITH daily AS (
    SELECT metric_date, coalesce(time_bucket, 'all') AS time_bucket, sum(drops) AS drops
    FROM venue_daily
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 13 AND $as_of
    GROUP BY GROUPING SETS ((metric_date, time_bucket), (metric_date))
), market AS (
    SELECT w.as_of, w.window_days, d.time_bucket, volatility_cv(d.drops) AS market_cv
    FROM daily d JOIN rolling_windows w ON d.metric_date BETWEEN w.window_start AND w.as_of
    GROUP BY ALL
), venues AS (
    SELECT as_of, window_days, time_bucket, any_value(days_observed) AS days_observed,
           any_value(partial_days) AS partial_days, sum(drops) AS drops, sum(release_drops) AS release_drops,
           100.0 * avg(volatility_cv) FILTER (WHERE NOT thin) AS volatility_index,
           count(*) FILTER (WHERE days_observed > 0) AS n,
           count(*) FILTER (WHERE NOT thin) AS venues_ranked
    FROM venue_rolling WHERE as_of = $as_of GROUP BY ALL
), forward AS (
    SELECT metric_date AS as_of, coalesce(time_bucket, 'all') AS time_bucket,
           sum(open_slots) AS open_slots, sum(baseline_slots) AS baseline_slots
    FROM supply_daily
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 7 AND $as_of AND lead_days BETWEEN 0 AND 13
    GROUP BY GROUPING SETS ((metric_date, time_bucket), (metric_date))
)
SELECT v.as_of, v.window_days, v.time_bucket, v.days_observed, v.partial_days, v.drops,
       per_day(v.drops, v.days_observed) AS drops_per_day, v.release_drops, v.volatility_index, m.market_cv,
       cur.open_slots AS forward_open_slots, cur.baseline_slots AS forward_baseline_slots,
       cur.open_slots / nullif(cur.baseline_slots, 0) AS forward_density,
       ref.open_slots AS forward_open_ref,
       100.0 * (cur.open_slots - ref.open_slots) / nullif(ref.open_slots, 0) AS compression_pct,
       v.n, v.venues_ranked, v.venues_ranked < $min_sample AS thin
FROM venues v
LEFT JOIN market m USING (as_of, window_days, time_bucket)
LEFT JOIN forward cur ON cur.as_of = v.as_of AND cur.time_bucket = v.time_bucket
LEFT JOIN forward ref ON ref.as_of = v.as_of - 7 AND ref.time_bucket = v.time_bucket;
