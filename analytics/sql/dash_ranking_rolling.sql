-- dash_ranking_rolling: the "Hardest tables" ranking for a slice that is one of the nightly
-- windows ($window_days ending $d1, time bucket $tb: 'all' | 'prime' | 'off_peak', no party-size or
-- weekday filter), read from venue_rolling, which the nightly job makes with the same definitions
-- as dash_ranking.sql computes for any other slice (same columns, same figures). thin = n < $min_n;
-- $hoods / $prices narrow the venues, and the scarcity score (measure_scarcity) ranks the venues
-- that remain, as dash_ranking.sql does.
WITH rows AS (
    SELECT 'slice' AS peer_group, r.venue_id,
           coalesce(v.name, 'venue ' || r.venue_id::VARCHAR) AS venue,
           coalesce(v.neighborhood, '(unknown)') AS neighborhood, v.price_range,
           r.drops, r.drops_per_day, r.km_median_s, r.km_median_lo_s, r.km_median_hi_s,
           r.km_median_bound_s, r.mean_close_s,
           r.fully_booked_share, r.release_drops, r.cancel_drops, r.drops_last7, r.drops_prev7, r.trend_pct,
           r.closed_timed, r.censored, r.n, r.n < $min_n AS thin, r.partial_days > 0 AS partial,
           r.days_observed AS n_days
    FROM venue_rolling r
    LEFT JOIN venues v ON v.provider = r.provider AND v.venue_id = r.venue_id
    WHERE r.as_of = $d1 AND r.window_days = $window_days AND r.time_bucket = $tb
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
)
SELECT * EXCLUDE (peer_group, scarcity_rank) FROM scarcity(rows)
ORDER BY scarcity_score DESC NULLS LAST, venue_id;
