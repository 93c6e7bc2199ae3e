-- dash_venue_heatmap: one row per (ISO weekday, local hour) of the NEW_DROPs of one venue
-- ($venue_id) first seen on market days [$d0, $d1]: the nightly venue_hourly rows summed.
SELECT isodow(metric_date) AS dow, hour_local AS hour, sum(drops)::BIGINT AS drops
FROM venue_hourly
WHERE venue_id = $venue_id AND metric_date BETWEEN $d0 AND $d1
GROUP BY ALL
ORDER BY dow, hour;
