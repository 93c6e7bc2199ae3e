-- dash_venue_heatmap: one row per (ISO weekday, hour) of the venue-local time NEW_DROPs of one venue
-- ($venue_id) were first seen (slot_intervals.opened_local, kept for the whole history), for
-- opened_local days in [$d0, $d1]. One venue's intervals only: a small filtered read.
SELECT isodow(opened_local) AS dow, hour(opened_local) AS hour, count(*) AS drops
FROM slot_intervals
WHERE venue_id = $venue_id AND source = 'drop'
  AND opened_local >= $d0::TIMESTAMP AND opened_local < ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
GROUP BY ALL
ORDER BY dow, hour;
