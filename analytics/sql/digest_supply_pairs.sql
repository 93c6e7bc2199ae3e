-- digest_supply_pairs: the paired observations behind "supply tightened N% this weekend vs last".
-- Grain: as_of, bucket_date, time_bucket (supply_compression rows, all party sizes: party_size 0).
-- Rows: bucket dates in [$b0, $b1] (the weekend), observed on a market day as_of in [$a0, $a1]
-- (the digest week) at or before the bucket date, with a reference: open_slots = open inventory of
-- the bucket seen on as_of; ref_open_slots = the bucket dated 7 days earlier seen on as_of - 7
-- (same weekday, same lead time). The change is sum(open) / sum(ref) - 1 over the rows.
SELECT as_of, bucket_date, time_bucket, lead_days, open_slots, ref_open_slots, partial
FROM supply_compression
WHERE bucket_date BETWEEN $b0 AND $b1
  AND as_of BETWEEN $a0 AND $a1
  AND as_of <= bucket_date
  AND party_size = 0
  AND time_bucket IN ('prime', 'off_peak')
  AND ref_open_slots IS NOT NULL
ORDER BY as_of, bucket_date, time_bucket;
