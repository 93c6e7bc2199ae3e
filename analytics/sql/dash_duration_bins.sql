-- dash_duration_bins: one row per (group, duration bin) of NEW_DROP intervals matching the filters.
-- closed = intervals that ended 'closed' with their point duration in the bin; censored = intervals
-- that expired or were still open at a stop, counted at their known-open time (closed_lo - opened_hi),
-- so survival estimates (Kaplan-Meier over bins) do not drop them. Bins: 15 s below 10 min,
-- 2 min below 2 h, 30 min above. grp follows $split: 'time_bucket' | 'party_size' |
-- 'neighborhood' | 'price_range' | 'none' (a CASE on a parameter, never an identifier).
-- Shared filters (NULL = all): opened_local day in [$d0, $d1]; $hoods (neighborhood names, '(unknown)'
-- for none); $prices (price_range 1-4); $time_bucket ('prime' | 'off_peak'); $parties (party sizes);
-- $dows (ISO weekday 1=Mon..7=Sun of the slot date); $venue_id.
WITH f AS (
    SELECT CASE $split
               WHEN 'time_bucket'  THEN si.time_bucket
               WHEN 'party_size'   THEN si.party_size::VARCHAR
               WHEN 'neighborhood' THEN coalesce(v.neighborhood, '(unknown)')
               WHEN 'price_range'  THEN coalesce(repeat('$', v.price_range), '(unknown)')
               ELSE 'all' END AS grp,
           si.end_reason = 'closed' AS is_closed,
           CASE WHEN si.end_reason = 'closed' THEN si.duration_s
                ELSE date_diff('second', si.opened_hi, si.closed_lo)::DOUBLE END AS d
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
SELECT grp,
       CASE WHEN d < 600 THEN greatest(ceil(d / 15), 1) * 15
            WHEN d < 7200 THEN ceil(d / 120) * 120
            ELSE ceil(d / 1800) * 1800 END AS bin_s,
       count(*) FILTER (WHERE is_closed)     AS closed,
       count(*) FILTER (WHERE NOT is_closed) AS censored
FROM f
WHERE d IS NOT NULL
GROUP BY ALL
ORDER BY grp, bin_s;
