-- dash_drops_by_day: one row per venue-local day (observed_local::DATE) in [$d0, $d1] with
-- NEW_DROP events that day. Raw events are kept for the retention window only; the page reads
-- today's count from here and "a typical day" as the median of the earlier days.
SELECT observed_local::DATE AS day, count(*) AS drops
FROM availability_events
WHERE event_type = 'NEW_DROP'
  AND observed_local >= $d0::TIMESTAMP
  AND observed_local <  ($d1::DATE + INTERVAL 1 DAY)::TIMESTAMP
GROUP BY ALL
ORDER BY day;
