-- supply_compression: grain = as_of x bucket_date x time bucket (incl. 'all') x party size (0 =
-- all), for one <as_of>: the open slots of each future date at as_of's snapshot
-- (supply_daily) against its baseline and against the same lead a week earlier (the date 7 days
-- before, seen 7 days before). partial when either day was.

DELETE FROM supply_compression WHERE as_of = $as_of;

INSERT INTO supply_compression BY NAME
WITH s AS (
    SELECT metric_date, bucket_date, coalesce(time_bucket, 'all') AS time_bucket, coalesce(party_size, 0) AS party_size,
           any_value(lead_days) AS lead_days, sum(open_slots) AS open_slots, sum(baseline_slots) AS baseline_slots,
           bool_or(partial) AS partial
    FROM supply_daily
    WHERE metric_date BETWEEN CAST($as_of AS DATE) - 7 AND $as_of
    GROUP BY GROUPING SETS ((metric_date, bucket_date, time_bucket, party_size), (metric_date, bucket_date, time_bucket),
                            (metric_date, bucket_date, party_size), (metric_date, bucket_date))
)
SELECT c.metric_date AS as_of, c.bucket_date, c.time_bucket, c.party_size, c.lead_days,
       CAST(isodow(c.bucket_date) AS SMALLINT) AS weekday, c.open_slots, c.baseline_slots,
       100.0 * (c.open_slots - c.baseline_slots) / nullif(c.baseline_slots, 0) AS pct_vs_baseline,
       r.open_slots AS ref_open_slots, 100.0 * (c.open_slots - r.open_slots) / nullif(r.open_slots, 0) AS pct_vs_week_before,
       c.partial OR coalesce(r.partial, FALSE) AS partial
FROM s c
LEFT JOIN s r ON r.metric_date = c.metric_date - 7 AND r.bucket_date = c.bucket_date - 7
             AND r.time_bucket = c.time_bucket AND r.party_size = c.party_size
WHERE c.metric_date = $as_of;
