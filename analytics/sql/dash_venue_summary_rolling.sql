-- dash_venue_summary_rolling: Venue detail's summary for a slice that is one of the nightly windows
-- ($window_days ending $d1, time bucket $tb, no party-size or weekday filter): venue $venue_id's row of
-- dash_ranking_rolling (same columns, same figures: tests/analytics/test_one_definition.py compares every
-- column), read directly instead of ranking every venue.
-- Its scarcity_score is the one the nightly job stored in venue_rolling (measure_scarcity among all
-- venues of the window, thin = n < the job's min_sample). That is the score dash_ranking_rolling gives
-- only when the venues are ranked among the same peers with the same thin flags, so views.venue_summary
-- calls this without neighborhood / price filters, and stored_score_holds says whether every venue's
-- stored thin flag is n < $min_n (else it ranks all venues). No row when the venue has none.
WITH peers AS (
    SELECT bool_and(thin = (n < $min_n)) AS stored_score_holds FROM venue_rolling
    WHERE as_of = $d1 AND window_days = $window_days AND time_bucket = $tb
)
SELECT r.venue_id,
       coalesce(v.name, 'venue ' || r.venue_id::VARCHAR) AS venue,
       coalesce(v.neighborhood, '(unknown)') AS neighborhood, v.price_range,
       r.drops, r.drops_per_day, r.km_median_s, r.km_median_lo_s, r.km_median_hi_s,
       r.km_median_bound_s, r.mean_close_s,
       r.fully_booked_share, r.release_drops, r.cancel_drops, r.drops_last7, r.drops_prev7, r.trend_pct,
       r.closed_timed, r.censored, r.n, r.n < $min_n AS thin, r.partial_days > 0 AS partial,
       r.days_observed AS n_days, r.scarcity_score, p.stored_score_holds
FROM venue_rolling r CROSS JOIN peers p
LEFT JOIN venues v ON v.provider = r.provider AND v.venue_id = r.venue_id
WHERE r.as_of = $d1 AND r.window_days = $window_days AND r.time_bucket = $tb AND r.venue_id = $venue_id;
