-- dash_supply: supply_compression for the latest as_of <= $d1: one row per (bucket_date,
-- time_bucket) summed over party sizes (the party_size 0 'all sizes' rows when present).
WITH latest AS (SELECT max(as_of) AS a FROM supply_compression WHERE as_of <= $d1)
SELECT sc.as_of, sc.bucket_date, sc.time_bucket, any_value(sc.lead_days) AS lead_days,
       sum(sc.open_slots)::BIGINT AS open_slots, sum(sc.baseline_slots)::BIGINT AS baseline_slots,
       sum(sc.ref_open_slots)::BIGINT AS ref_open_slots, bool_or(sc.partial) AS partial
FROM supply_compression sc, latest
WHERE sc.as_of = latest.a AND sc.time_bucket <> 'all'
  AND (sc.party_size = 0 OR NOT EXISTS (
       SELECT 1 FROM supply_compression x WHERE x.as_of = latest.a AND x.party_size = 0))
GROUP BY ALL
ORDER BY sc.bucket_date, sc.time_bucket;
