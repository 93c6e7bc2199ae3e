-- dash_poll_gap: one row, the median of day_quality.median_gap_s (the median gap between trusted
-- polls of a day) over the market-local days [$d0, $d1] (ISO weekdays $dows; NULL = all): the poll
-- resolution behind a slice's time-to-close (measure_time_to_close: time_to_close_bound).
SELECT median(median_gap_s) AS poll_gap_s FROM day_quality
WHERE metric_date BETWEEN $d0 AND $d1 AND ($dows IS NULL OR list_contains($dows, isodow(metric_date)));
