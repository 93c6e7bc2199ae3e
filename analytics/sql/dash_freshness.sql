-- dash_freshness: one row per bucket (date, time slot), party sizes folded together.
-- last_trusted_at = the bucket's most recent trusted poll (UTC); oldest_party_trusted_at = the
-- stalest of its party sizes (a bucket is only as fresh as its stalest party size).
SELECT bucket_id,
       any_value(bucket_date)   AS bucket_date,
       any_value(time_slot)     AS time_slot,
       any_value(time_bucket)   AS time_bucket,
       count(*)                 AS party_sizes,
       max(last_trusted_at)     AS last_trusted_at,
       min(last_trusted_at)     AS oldest_party_trusted_at,
       max(last_poll_at)        AS last_poll_at,
       bool_or(pending_collapse) AS pending_collapse,
       bool_and(baseline_ready) AS baseline_ready
FROM buckets
GROUP BY bucket_id
ORDER BY bucket_id;
