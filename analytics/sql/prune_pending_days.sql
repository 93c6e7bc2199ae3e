-- prune_pending_days: grain = one local observation day. The days of the raw events that the next
-- prune would delete (bucket_date < <cutoff>) and that have no aggregates yet (no day_quality row).
-- Bounded: reads only availability_events before the cutoff.
SELECT DISTINCT CAST(e.observed_local AS DATE) AS day
FROM availability_events e
WHERE e.bucket_date < $cutoff
  AND CAST(e.observed_local AS DATE) NOT IN (SELECT metric_date FROM day_quality)
ORDER BY day;
