-- dash_ranking: one row per venue with at least one NEW_DROP interval matching the filters.
-- A "drop" is a finished slot interval whose source is 'drop' (a NEW_DROP); time-to-close is its
-- point duration (first absent - first seen) when it ended 'closed'. median_lo/median_hi: a
-- distribution-free ~95% interval for the median (order statistics n/2 -+ 0.98 sqrt(n)).
-- drops_per_day divides by $n_days (days in the range that had data).
-- trend_ratio = drops in the last 7 days of the range / drops in the 7 days before (NULL if none).
-- Shared filters (NULL = all): opened_local day in [$d0, $d1]; $hoods (neighborhood names, '(unknown)'
-- for none); $prices (price_range 1-4); $time_bucket ('prime' | 'off_peak'); $parties (party sizes);
-- $dows (ISO weekday 1=Mon..7=Sun of the slot date); $venue_id.
WITH f AS (
    SELECT si.venue_id, si.opened_local, si.end_reason, si.duration_s, si.time_bucket, si.is_release
    FROM slot_intervals si
    LEFT JOIN venues v ON v.provider = si.provider AND v.venue_id = si.venue_id
    WHERE si.source = 'drop'
  AND si.opened_local >= $d0::TIMESTAMP
  AND si.opened_local <  ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
  AND ($hoods IS NULL OR list_contains($hoods, coalesce(v.neighborhood, '(unknown)')))
  AND ($prices IS NULL OR list_contains($prices, v.price_range))
  AND ($time_bucket IS NULL OR si.time_bucket = $time_bucket)
  AND ($parties IS NULL OR list_contains($parties, si.party_size))
  AND ($dows IS NULL OR list_contains($dows, isodow(si.slot_date)))
  AND ($venue_id IS NULL OR si.venue_id = $venue_id)
), agg AS (
    SELECT venue_id,
           count(*)                                                        AS drops,
           count(*) FILTER (WHERE time_bucket = 'prime')                   AS prime_drops,
           count(*) FILTER (WHERE is_release)                              AS release_drops,
           count(*) FILTER (WHERE end_reason = 'closed')                   AS n_closed,
           median(duration_s) FILTER (WHERE end_reason = 'closed')         AS median_ttc_s,
           list_sort(list(duration_s) FILTER (WHERE end_reason = 'closed')) AS ds,
           count(*) FILTER (WHERE opened_local >= ($d1::DATE - INTERVAL 6 DAY)::TIMESTAMP)  AS drops_last7,
           count(*) FILTER (WHERE opened_local <  ($d1::DATE - INTERVAL 6 DAY)::TIMESTAMP
                              AND opened_local >= ($d1::DATE - INTERVAL 13 DAY)::TIMESTAMP) AS drops_prev7
    FROM f
    GROUP BY venue_id
)
SELECT a.venue_id,
       coalesce(v.name, 'venue ' || a.venue_id::VARCHAR) AS venue,
       coalesce(v.neighborhood, '(unknown)')             AS neighborhood,
       v.price_range,
       a.drops,
       a.drops / greatest($n_days, 1)::DOUBLE           AS drops_per_day,
       a.prime_drops,
       a.release_drops,
       a.n_closed,
       a.median_ttc_s,
       CASE WHEN a.n_closed > 0 THEN a.ds[greatest(1, floor(a.n_closed / 2.0 - 0.98 * sqrt(a.n_closed))::INTEGER)] END AS median_lo_s,
       CASE WHEN a.n_closed > 0 THEN a.ds[least(a.n_closed, ceil(a.n_closed / 2.0 + 1 + 0.98 * sqrt(a.n_closed))::INTEGER)] END AS median_hi_s,
       a.drops_last7,
       a.drops_prev7,
       CASE WHEN a.drops_prev7 > 0 THEN a.drops_last7 / a.drops_prev7::DOUBLE END AS trend_ratio
FROM agg a
LEFT JOIN venues v ON v.venue_id = a.venue_id
ORDER BY a.venue_id;
