-- dash_daily: one row per (venue-local day of opened_local, group) for NEW_DROP intervals matching the
-- filters: drops, prime drops, release vs cancellation drops, closed count and median time-to-close.
-- grp follows $split ('neighborhood' | 'time_bucket' | 'price_range' | 'none').
-- Shared filters (NULL = all): opened_local day in [$d0, $d1]; $hoods (neighborhood names, '(unknown)'
-- for none); $prices (price_range 1-4); $time_bucket ('prime' | 'off_peak'); $parties (party sizes);
-- $dows (ISO weekday 1=Mon..7=Sun of the slot date); $venue_id.
WITH f AS (
    SELECT si.opened_local::DATE AS day,
           CASE $split
               WHEN 'time_bucket'  THEN si.time_bucket
               WHEN 'neighborhood' THEN coalesce(v.neighborhood, '(unknown)')
               WHEN 'price_range'  THEN coalesce(repeat('$', v.price_range), '(unknown)')
               ELSE 'all' END AS grp,
           si.time_bucket, si.is_release, si.end_reason, si.duration_s
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
)
SELECT day, grp,
       count(*)                                                AS drops,
       count(*) FILTER (WHERE time_bucket = 'prime')           AS prime_drops,
       count(*) FILTER (WHERE is_release)                      AS release_drops,
       count(*) FILTER (WHERE NOT is_release)                  AS cancellation_drops,
       count(*) FILTER (WHERE end_reason = 'closed')           AS n_closed,
       median(duration_s) FILTER (WHERE end_reason = 'closed') AS median_ttc_s
FROM f
GROUP BY ALL
ORDER BY day, grp;
