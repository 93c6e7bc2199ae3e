-- dash_ranking: grain = one venue with venue_daily rows matching the filters: the "Hardest tables"
-- ranking (and the digest's, and Venue detail's figures) for any filtered slice, from the
-- mergeable per-day tables (never raw events). The measures are the shared definitions:
--   drops_per_day       drops per complete day of day_quality in the filtered days (all days
--                       when none is complete)                                    (measure_rates complete_day_rate)
--   km_median_s, km_median_lo_s, km_median_hi_s, km_median_bound_s  time_to_close over the merged
--                       venue_daily_hist (measure_time_to_close; bound NULL: the median is resolved)
--   fully_booked_share  fully_booked_share(fully_booked_s, observed_s)            (measure_rates)
--   trend_pct           trend_pct: drops per day with a row, the last 7 days of the range vs the
--                       7 before                                                  (measure_rates)
--   n = closed_timed + censored (the time-to-close sample); thin = n < $min_n
--   scarcity_score      scarcity among the venues of this slice                   (measure_scarcity)
-- Same columns as dash_ranking_rolling.sql, which reads the nightly venue_rolling rows made by the
-- same definitions when the slice is one of its windows.
-- Shared filters (NULL = all): metric_date (market-local day the transition was observed) in
-- [$d0, $d1]; $hoods (neighborhood names, '(unknown)' for none); $prices (price_range 1-4);
-- $time_bucket ('prime' | 'off_peak'); $parties (party sizes); $dows (ISO weekday 1=Mon..7=Sun of
-- metric_date).
WITH days AS (
    SELECT count(*) AS n_days, count(*) FILTER (WHERE NOT partial) AS n_complete FROM day_quality
    WHERE metric_date BETWEEN $d0 AND $d1 AND ($dows IS NULL OR list_contains($dows, isodow(metric_date)))
), slice AS (
    SELECT vd.* FROM venue_daily vd
    LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
    WHERE vd.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR vd.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, vd.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(vd.metric_date)))
), per_venue AS (
    SELECT venue_id,
           sum(drops) AS drops, sum(drops) FILTER (WHERE NOT partial) AS drops_complete,
           sum(release_drops) AS release_drops, sum(cancel_drops) AS cancel_drops,
           sum(closed_timed) AS closed_timed, sum(censored) AS censored,
           sum(sum_close_s) / nullif(sum(closed_timed), 0) AS mean_close_s,
           sum(observed_s) AS observed_s, sum(fully_booked_s) AS fully_booked_s,
           sum(drops) FILTER (WHERE metric_date > $d1 - 7) AS drops_last7,
           count(DISTINCT metric_date) FILTER (WHERE metric_date > $d1 - 7) AS days_last7,
           sum(drops) FILTER (WHERE metric_date <= $d1 - 7 AND metric_date > $d1 - 14) AS drops_prev7,
           count(DISTINCT metric_date) FILTER (WHERE metric_date <= $d1 - 7 AND metric_date > $d1 - 14) AS days_prev7,
           bool_or(partial) AS partial
    FROM slice GROUP BY venue_id
), hist AS (
    SELECT h.venue_id AS grp, h.bin, h.lo_bin, h.hi_bin, sum(h.n_closed) AS n_closed, sum(h.n_censored) AS n_censored
    FROM venue_daily_hist h
    LEFT JOIN venues v ON v.provider = h.provider AND v.venue_id = h.venue_id
    WHERE h.metric_date BETWEEN $d0 AND $d1
      AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
      AND ($prices IS NULL OR list_contains($prices, v.price_range))
      AND ($time_bucket IS NULL OR h.time_bucket = $time_bucket)
      AND ($parties IS NULL OR list_contains($parties, h.party_size))
      AND ($dows IS NULL OR list_contains($dows, isodow(h.metric_date)))
    GROUP BY ALL
), km AS (
    SELECT grp AS venue_id, km_median_s, km_median_lo_s, km_median_hi_s, km_median_bound_s FROM time_to_close(hist)
), rows AS (
    SELECT 'slice' AS peer_group, a.venue_id,
           coalesce(v.name, 'venue ' || a.venue_id::VARCHAR) AS venue,
           coalesce(v.neighborhood, '(unknown)') AS neighborhood, v.price_range,
           a.drops, complete_day_rate(a.drops, d.n_days, a.drops_complete, d.n_complete) AS drops_per_day,
           km.km_median_s, km.km_median_lo_s, km.km_median_hi_s,
           km.km_median_bound_s, a.mean_close_s,
           fully_booked_share(a.fully_booked_s, a.observed_s) AS fully_booked_share,
           a.release_drops, a.cancel_drops,
           CASE WHEN a.days_last7 > 0 THEN a.drops_last7 END AS drops_last7,
           CASE WHEN a.days_prev7 > 0 THEN a.drops_prev7 END AS drops_prev7,
           trend_pct(a.drops_last7, a.days_last7, a.drops_prev7, a.days_prev7) AS trend_pct,
           a.closed_timed, a.censored, CAST(a.closed_timed + a.censored AS INTEGER) AS n,
           a.closed_timed + a.censored < $min_n AS thin, a.partial, d.n_days
    FROM per_venue a CROSS JOIN days d
    LEFT JOIN km ON km.venue_id = a.venue_id
    LEFT JOIN venues v ON v.venue_id = a.venue_id
)
SELECT * EXCLUDE (peer_group, scarcity_rank) FROM scarcity(rows)
ORDER BY scarcity_score DESC NULLS LAST, venue_id;
