-- dash_drop_heatmap: one row per (ISO weekday, hour) of the venue-local time a NEW_DROP was first
-- seen (opened_local), with the drop count and the number of such weekdays in [$d0, $d1] so the
-- page can show drops per day. Same filters as the other dash_* interval queries.
-- Shared filters (NULL = all): opened_local day in [$d0, $d1]; $hoods (neighborhood names, '(unknown)'
-- for none); $prices (price_range 1-4); $time_bucket ('prime' | 'off_peak'); $parties (party sizes);
-- $dows (ISO weekday 1=Mon..7=Sun of the slot date); $venue_id.
WITH f AS (
    SELECT isodow(si.opened_local) AS dow, hour(si.opened_local) AS hour
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
), days AS (
    SELECT isodow(d) AS dow, count(*) AS n_days
    FROM range($d0::DATE, $d1::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
    GROUP BY ALL
)
SELECT f.dow, f.hour, count(*) AS drops, any_value(days.n_days) AS n_days
FROM f JOIN days USING (dow)
GROUP BY ALL
ORDER BY f.dow, f.hour;
