-- dash_ranking_rolling: the "Hardest tables" ranking read straight from venue_rolling (the nightly
-- job's 7/14-day per-venue metrics) for window $window_days ending $d1, time bucket $tb ('all' |
-- 'prime' | 'off_peak'). Same columns as dash_ranking. thin = n < $min_n and the scarcity score is
-- re-ranked here with that minimum (analytics.scores.SCARCITY_FORMULA: 100 x mean of percent ranks
-- of fully booked share asc, drops/day desc, KM median desc, among the non-thin venues of the
-- window and time bucket); $hoods / $prices then narrow the rows shown, not the comparison set.
WITH base AS (
    SELECT r.venue_id,
           coalesce(v.name, 'venue ' || r.venue_id::VARCHAR) AS venue,
           coalesce(v.neighborhood, '(unknown)') AS neighborhood,
           v.price_range,
           r.drops, r.drops_per_day, r.km_median_s, r.km_median_lo_s, r.km_median_hi_s, r.mean_close_s,
           r.fully_booked_share, r.release_drops, r.cancel_drops, r.drops_last7, r.drops_prev7, r.trend_pct,
           r.closed_timed, r.censored, r.n, r.n < $min_n AS thin, r.partial_days > 0 AS partial,
           r.days_observed AS n_days
    FROM venue_rolling r
    LEFT JOIN venues v ON v.provider = r.provider AND v.venue_id = r.venue_id
    WHERE r.as_of = $d1 AND r.window_days = $window_days AND r.time_bucket = $tb
), ranked AS (
    SELECT base.*,
           CASE WHEN NOT thin AND fully_booked_share IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, fully_booked_share IS NULL ORDER BY fully_booked_share) END AS pr_booked,
           CASE WHEN NOT thin AND drops_per_day IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, drops_per_day IS NULL ORDER BY drops_per_day DESC) END AS pr_drops,
           CASE WHEN NOT thin AND km_median_s IS NOT NULL THEN percent_rank() OVER (
               PARTITION BY thin, km_median_s IS NULL ORDER BY km_median_s DESC) END AS pr_speed
    FROM base
)
SELECT * EXCLUDE (pr_booked, pr_drops, pr_speed),
       CASE WHEN NOT thin THEN 100 * (coalesce(pr_booked, 0) + coalesce(pr_drops, 0) + coalesce(pr_speed, 0))
            / nullif((pr_booked IS NOT NULL)::INT + (pr_drops IS NOT NULL)::INT + (pr_speed IS NOT NULL)::INT, 0) END
           AS scarcity_score
FROM ranked
WHERE ($hoods IS NULL OR list_contains($hoods, neighborhood))
  AND ($prices IS NULL OR list_contains($prices, price_range))
ORDER BY scarcity_score DESC NULLS LAST, venue_id;
