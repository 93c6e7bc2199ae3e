-- prune_raw: deletes raw availability_events of buckets dated before <cutoff>, but only those
-- observed on a day that is already aggregated (has a day_quality row). Returns the count deleted.
DELETE FROM availability_events
WHERE bucket_date < $cutoff
  AND CAST(observed_local AS DATE) IN (SELECT metric_date FROM day_quality);
