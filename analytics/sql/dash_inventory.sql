-- dash_inventory: one row per bucket date in the watched window: slots open now (open_slots, as of
-- each bucket's last trusted poll) vs slots open at baseline (buckets.baseline_slots), split by
-- time bucket. compression = open_now / baseline - 1 (negative = supply tightened).
WITH b AS (
    SELECT bucket_date, time_bucket, sum(baseline_slots) AS baseline_slots
    FROM buckets WHERE baseline_ready GROUP BY ALL
), o AS (
    SELECT bk.bucket_date, bk.time_bucket, count(*) AS open_now
    FROM open_slots os JOIN buckets bk ON bk.bucket_id = os.bucket_id AND bk.party_size = os.party_size
    GROUP BY ALL
)
SELECT b.bucket_date, b.time_bucket, b.baseline_slots, coalesce(o.open_now, 0) AS open_now
FROM b LEFT JOIN o USING (bucket_date, time_bucket)
ORDER BY b.bucket_date, b.time_bucket;
