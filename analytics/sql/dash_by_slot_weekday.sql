-- dash_by_slot_weekday: one row per (ISO weekday of the slot date, time bucket): NEW_DROP count,
-- closed count and median time-to-close, for "Friday prime drops more than Tuesday off-peak".
-- Shared filters (NULL = all): opened_local day in [$d0, $d1]; $hoods (neighborhood names, '(unknown)'
-- for none); $prices (price_range 1-4); $time_bucket ('prime' | 'off_peak'); $parties (party sizes);
-- $dows (ISO weekday 1=Mon..7=Sun of the slot date); $venue_id.
SELECT isodow(si.slot_date) AS dow, si.time_bucket,
       count(*) AS drops,
       count(*) FILTER (WHERE si.end_reason = 'closed') AS n_closed,
       median(si.duration_s) FILTER (WHERE si.end_reason = 'closed') AS median_ttc_s
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
GROUP BY ALL
ORDER BY dow, si.time_bucket;
